"""Leases: one holder at a time for a named background job across every process on one
database (the in-process alert evaluator, the pruner). A row of `leases` per job; a holder renews
before `expires_at`, and anyone may take a lease that expired (its holder died or hung).

A row, not a Postgres advisory lock: Supabase's transaction pooler carries no session state, so
an advisory lock taken through it would be released (or held) by whichever client got the
backend. One upsert decides: insert, or take over when the holder is us or the lease expired.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.core.db import utcnow, writer


async def hold_lease(engine: AsyncEngine, name: str, holder: str, ttl: float) -> bool:
    """Take or renew the lease `name` for `ttl` seconds; True when `holder` holds it now."""
    now = utcnow()
    params = {"name": name, "holder": holder, "now": _bind(engine, now),
              "until": _bind(engine, now + dt.timedelta(seconds=ttl))}
    async with writer(engine).begin() as conn:
        row = (await conn.execute(text(
            "INSERT INTO leases (name, holder, expires_at) VALUES (:name, :holder, :until) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
            "expires_at = excluded.expires_at "
            "WHERE leases.holder = excluded.holder OR leases.expires_at < :now "
            "RETURNING holder"), params)).first()
    return row is not None and row[0] == holder


async def release_lease(engine: AsyncEngine, name: str, holder: str) -> None:
    """Give the lease up at shutdown so another process takes over at once."""
    async with writer(engine).begin() as conn:
        await conn.execute(text("DELETE FROM leases WHERE name = :name AND holder = :holder"),
                           {"name": name, "holder": holder})


def _bind(engine: AsyncEngine, when: dt.datetime) -> dt.datetime:
    # Plain SQL skips the UTCDateTime column type: store what it would (naive UTC on SQLite).
    return when.replace(tzinfo=None) if engine.dialect.name == "sqlite" else when
