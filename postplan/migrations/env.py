"""Alembic environment: the URL comes from settings (or the caller's config), never a file."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

import sqlalchemy as sa
from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo
from sqlalchemy.engine import Connection

from postplan.config import get_settings
from postplan.core.db import UTCDateTime, create_engine
from postplan.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().database_url


def _record_revision(ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any],
                     run_args: Mapping[str, Any]) -> None:
    """Keep every applied revision in `schema_revisions` (see postplan.core.migrate
    schema_state): the probe of an older build, still serving during a rolling deploy, must see
    that its own head was applied even after the head moved on."""
    if not step.is_upgrade:
        return
    conn = ctx.connection
    if conn is None:  # offline (SQL script) mode: nothing to record into
        return
    if not sa.inspect(conn).has_table("schema_revisions"):
        return
    table = sa.table("schema_revisions", sa.column("revision"),
                     sa.column("applied_at", UTCDateTime()))
    for revision in step.up_revision_ids:
        exists = conn.execute(sa.select(table.c.revision).where(table.c.revision == revision))
        if exists.first() is None:
            conn.execute(table.insert().values(revision=revision,
                                               applied_at=dt.datetime.now(dt.UTC)))


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        on_version_apply=_record_revision,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    settings = get_settings()
    engine = create_engine(
        _url(), disable_statement_cache=settings.database_disable_statement_cache, pool_size=1
    )
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    existing: Any = config.attributes.get("connection")
    if existing is not None:
        _configure(existing)
        return
    asyncio.run(_run_async())


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
