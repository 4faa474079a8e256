"""Run Alembic migrations from code: `postplan migrate`, `serve` on SQLite, and the tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` (blocking; runs its own event loop)."""
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str) -> None:
    """Apply migrations from inside a running event loop."""
    await asyncio.to_thread(upgrade, url)


def head_revision() -> str | None:
    """The newest revision shipped with this build."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


@dataclass(frozen=True)
class SchemaState:
    """Where the database's schema stands against this build's head.

    `ahead` is true when the database has applied this build's head and moved past it (a newer
    build migrated it): with expand-then-contract migrations this build still works there.
    """

    current: str | None
    head: str | None
    ahead: bool

    @property
    def ready(self) -> bool:
        """Serve when the schema is at this build's head or past it, never when behind."""
        return self.current == self.head or self.ahead


async def schema_state(engine: AsyncEngine) -> SchemaState:
    """The database's revision and whether it holds this build's head (`schema_revisions`)."""
    head = head_revision()

    def read(sync: Connection) -> tuple[str | None, bool]:
        current = MigrationContext.configure(sync).get_current_revision()
        if current == head or head is None or not sa.inspect(sync).has_table("schema_revisions"):
            return current, False
        row = sync.execute(sa.text("SELECT 1 FROM schema_revisions WHERE revision = :r"),
                           {"r": head}).first()
        return current, row is not None

    async with engine.connect() as conn:
        current, ahead = await conn.run_sync(read)
    return SchemaState(current=current, head=head, ahead=ahead)
