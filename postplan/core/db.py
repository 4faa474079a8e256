"""Engine and session factories for SQLite (aiosqlite) and Postgres (asyncpg); portable types."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import JSON, DateTime, TypeDecorator, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite drops tzinfo otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


#: JSON on SQLite, JSONB on Postgres.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    """The current instant, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def new_id() -> uuid.UUID:
    """A fresh random id."""
    return uuid.uuid4()


def create_engine(url: str, *, disable_statement_cache: bool = False,
                  pool_size: int = 10, pre_ping: bool = True,
                  max_overflow: int | None = None) -> AsyncEngine:
    """An async engine tuned for the backend the URL names.

    `pre_ping` checks each pooled Postgres connection before use (asyncpg: BEGIN, `;`,
    ROLLBACK, three round trips per checkout). Request handlers keep it: a request after a
    database restart then never sees a dead connection. The publish worker turns it off: it
    checks out a connection several times per post, and a job that hits a dead connection is
    already safe (the failed write rolls back, SQLAlchemy invalidates the whole pool on the
    disconnect, and the job retries or reconciles on a fresh connection).
    """
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # One connection per checkout keeps SQLite's locking simple; WAL lets readers run
        # beside the single writer; busy_timeout waits instead of failing on a held lock.
        kwargs["poolclass"] = NullPool
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_size"] = pool_size
        # Overflow connections are opened and closed per checkout: a burst past pool_size
        # pays a connect each time, so workers size the pool to their concurrency instead.
        kwargs["max_overflow"] = pool_size if max_overflow is None else max_overflow
        kwargs["pool_pre_ping"] = pre_ping
        connect_args: dict[str, Any] = {"timeout": 5, "command_timeout": 30}
        if disable_statement_cache:
            # Transaction poolers hand each transaction a different backend: named prepared
            # statements would collide, so they are switched off and given unique names.
            connect_args["statement_cache_size"] = 0
            connect_args["prepared_statement_name_func"] = lambda: f"__pp_{uuid.uuid4().hex}__"
        kwargs["connect_args"] = connect_args
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        _install_sqlite_pragmas(engine)
    return engine


def _install_sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # aiosqlite's default isolation emits BEGIN lazily (DEFERRED); we issue our own
        # BEGIN so a claim can use BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "BEGIN")
        conn.exec_driver_sql(mode)


async def begin_write(session: AsyncSession) -> None:
    """Start the session's transaction holding SQLite's write lock (a no-op on Postgres).

    A SQLite transaction that reads and then writes fails at once with "database is locked"
    when another connection committed in between (busy_timeout cannot rescue a stale read
    snapshot); taking the write lock first makes it wait its turn instead.
    """
    if not session.in_transaction():
        await session.connection(execution_options={"sqlite_begin": "BEGIN IMMEDIATE"})


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def session_scope(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
