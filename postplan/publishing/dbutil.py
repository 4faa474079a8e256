"""Small dialect helpers shared by the publishing storage code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from postplan.core.db import writer

__all__ = ["dialect_name", "insert_ignore", "rowcount", "single_statements",
           "transaction"]


def dialect_name(bind: AsyncSession | AsyncConnection) -> str:
    """`sqlite` or `postgresql`."""
    if isinstance(bind, AsyncSession):
        return bind.get_bind().dialect.name
    return bind.dialect.name


def rowcount(result: Any) -> int:
    """Rows an UPDATE/DELETE matched (CursorResult.rowcount, typed loosely by SQLAlchemy)."""
    return int(result.rowcount)


def insert_ignore(table: Table, dialect: str) -> Any:
    """`INSERT … ON CONFLICT DO NOTHING` for the given dialect (any unique constraint)."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def single_statements(engine: AsyncEngine) -> AsyncEngine | None:
    """The same pool with each statement its own transaction, on Postgres; None on SQLite.

    For work that is one statement (a claim, a fenced move with its log rows as a CTE, a
    read): asyncpg would otherwise spend a round trip on BEGIN and another on COMMIT or
    ROLLBACK around it. SQLite keeps explicit transactions (its write lock is taken by BEGIN
    IMMEDIATE, and it has no data-modifying CTEs).
    """
    if engine.dialect.name != "postgresql":
        return None
    # Kept on the engine itself (deriving one costs ~50 µs; a weak map would never free it,
    # the derived engine holding its key).
    derived: AsyncEngine | None = engine.sync_engine.__dict__.get("_postplan_autocommit")
    if derived is None:
        derived = engine.execution_options(isolation_level="AUTOCOMMIT")
        engine.sync_engine.__dict__["_postplan_autocommit"] = derived
    return derived


@asynccontextmanager
async def transaction(engine: AsyncEngine, *, immediate: bool = True
                      ) -> AsyncIterator[AsyncConnection]:
    """A connection inside one write transaction, committed when the block succeeds.

    On SQLite it begins holding the write lock (`BEGIN IMMEDIATE`, see `core.db.writer`) by
    default: a read-then-write block then waits its turn instead of failing, and gets the
    exclusivity `SELECT … FOR UPDATE` gives on Postgres. Only a block that never writes may
    pass `immediate=False`.
    """
    async with (writer(engine) if immediate else engine).connect() as conn, conn.begin():
        yield conn
