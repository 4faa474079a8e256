"""Retention: rows that expire on documented schedules, pruned in batches by one process of the
cluster at a time (the `retention` lease).

A table registers a `Rule` (which timestamp column, how old); a rule whose table does not exist
yet (a table added by a later migration) is skipped. Plain SQL by table name: core knows no
models. Deletes go by primary key in batches of `BATCH` so a large backlog never holds long locks.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.config import Settings
from postplan.core.db import utcnow, writer
from postplan.core.lease import hold_lease
from postplan.core.logging import get_logger
from postplan.core.periodic import run_every

log = get_logger("postplan.retention")

#: Rows deleted per statement.
BATCH = 500


@dataclass(frozen=True)
class Rule:
    """Delete rows of `table` whose `column` is older than `max_age` (key column `key`)."""

    name: str
    table: str
    column: str
    max_age: dt.timedelta
    key: str = "id"


def rules_from(settings: Settings) -> list[Rule]:
    """The schedules, from the settings (docs/cluster.md lists them)."""
    hours = dt.timedelta(hours=1)
    return [
        # A stored response (and its key) is only replayed to a client retrying the same request.
        Rule("idempotency_keys", "idempotency_keys", "created_at",
             settings.idempotency_ttl_hours * hours),
        # A state is useless once expired (10 min); kept a while longer for support questions.
        Rule("oauth_states", "oauth_states", "expires_at", settings.oauth_state_ttl_hours * hours),
        # Registered by name; skipped until the table exists.
        Rule("notifications", "notifications", "created_at",
             settings.notification_ttl_days * 24 * hours),
    ]


async def prune(engine: AsyncEngine, rules: list[Rule],
                now: dt.datetime | None = None) -> dict[str, int]:
    """Apply every rule once; rows deleted per rule (absent tables are skipped, not an error)."""
    now = now or utcnow()
    async with engine.connect() as conn:
        existing = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    sqlite = engine.dialect.name == "sqlite"
    deleted: dict[str, int] = {}
    for rule in rules:
        if rule.table not in existing:
            continue
        cutoff = now - rule.max_age
        bound = cutoff.replace(tzinfo=None) if sqlite else cutoff  # as UTCDateTime stores it
        total = 0
        while True:
            async with writer(engine).begin() as conn:
                result = await conn.execute(text(
                    f'DELETE FROM "{rule.table}" WHERE "{rule.key}" IN (SELECT "{rule.key}" '
                    f'FROM "{rule.table}" WHERE "{rule.column}" < :cutoff LIMIT :batch)'),
                    {"cutoff": bound, "batch": BATCH})
            count = int(result.rowcount)
            total += count
            if count < BATCH:
                break
        deleted[rule.name] = total
    return deleted


#: Spool files kept for a human, and a compaction's temp file a crash left behind; never the
#: live spool (`*.spool`) or its lock.
SPOOL_LEFTOVERS = ("*.torn", "*.rejected.jsonl", "*.spool.tmp")


def prune_spool_leftovers(spool_dir: Path, max_age: dt.timedelta,
                          now: dt.datetime | None = None) -> list[str]:
    """Remove spool leftovers last written more than `max_age` ago; the names removed.

    Each machine has its own spool folder, so every process runs this (not the lease holder).
    """
    now = now or utcnow()
    cutoff = (now - max_age).timestamp()
    removed: list[str] = []
    if not spool_dir.is_dir():
        return removed
    for pattern in SPOOL_LEFTOVERS:
        for path in spool_dir.glob(pattern):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(path.name)
            except FileNotFoundError:
                continue  # another process of this machine removed it first
    return sorted(removed)


@asynccontextmanager
async def pruning(engine: AsyncEngine, settings: Settings) -> AsyncIterator[None]:
    """Background job for a process's lifetime: every RETENTION_INTERVAL_SECONDS, the holder of
    the `retention` lease prunes (one process of the cluster at a time)."""
    interval = settings.retention_interval_seconds
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    rules = rules_from(settings)

    async def tick() -> None:
        gone = prune_spool_leftovers(settings.spool_dir,
                                     dt.timedelta(days=settings.spool_leftover_ttl_days))
        if gone:
            log.info("retention.spool_pruned", files=gone)
        if not await hold_lease(engine, "retention", holder, ttl=max(2 * interval, 60.0)):
            return
        deleted = await prune(engine, rules)
        if any(deleted.values()):
            log.info("retention.pruned", deleted=deleted)

    async with run_every(interval, tick, name="postplan-retention", log=log,
                         failure_event="retention.failed"):
        yield
