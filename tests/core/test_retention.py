"""Retention: each kind of expired row is pruned on its schedule and nothing else is touched;
a rule for a table that does not exist yet (notifications) is skipped."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from pathlib import Path

from sqlalchemy import func, select

from postplan.core.db import create_engine, create_sessionmaker
from postplan.core.retention import (
    BATCH,
    Rule,
    prune,
    prune_spool_leftovers,
    pruning,
    rules_from,
)
from postplan.models import Calendar, IdempotencyKey, Notification, OAuthState
from tests.fixtures.apps import make_settings
from tests.fixtures.databases import sqlite_url


async def test_each_kind_is_pruned_on_its_schedule_and_nothing_else(db_url: str) -> None:
    settings = make_settings(db_url, IDEMPOTENCY_TTL_HOURS=24, OAUTH_STATE_TTL_HOURS=1,
                             NOTIFICATION_TTL_DAYS=30)
    now = dt.datetime.now(dt.UTC)
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            session.add(Calendar(user_id="u", name="kept", brief={}, timezone="UTC"))
            for n, age in enumerate([BATCH + 3, 2, 0.5]):  # two batches of old ones; two kept
                for i in range(BATCH + 3 if n == 0 else 1):
                    session.add(IdempotencyKey(
                        user_id="u", key=f"k{n}-{i}", scope="publish", request_hash="h",
                        state="done", response_status=200, response_body={"big": "x" * 100},
                        created_at=now - dt.timedelta(hours=25 if n == 0 else age)))
            for name, expired_ago in (("old", 2.0), ("recent", 0.5), ("live", -0.1)):
                session.add(OAuthState(
                    id=uuid.uuid4(), user_id="u", channel="tiktok", state_hash=name * 8,
                    redirect_uri="http://localhost/cb", created_at=now,
                    expires_at=now - dt.timedelta(hours=expired_ago)))
            for event, days in (("intent.published", 31), ("run.completed", 29)):
                session.add(Notification(user_id="u", event=event, data={},
                                         created_at=now - dt.timedelta(days=days)))
            await session.commit()

        deleted = await prune(engine, rules_from(settings))
        assert deleted == {"idempotency_keys": BATCH + 3, "oauth_states": 1, "notifications": 1}

        async with engine.connect() as conn:
            keys = (await conn.execute(select(IdempotencyKey.key))).scalars().all()
            states = (await conn.execute(select(OAuthState.state_hash))).scalars().all()
            calendars = (await conn.execute(select(func.count()).select_from(Calendar))
                         ).scalar_one()
            events = (await conn.execute(select(Notification.event))).scalars().all()
        assert sorted(keys) == ["k1-0", "k2-0"]
        assert sorted(states) == ["live" * 8, "recent" * 8]
        assert calendars == 1
        assert events == ["run.completed"]
        # Nothing left to do: a second pass deletes nothing.
        assert await prune(engine, rules_from(settings)) == {"idempotency_keys": 0,
                                                              "oauth_states": 0,
                                                              "notifications": 0}
        # A rule for a table that exists prunes it: the registration is by name only.
        assert await prune(engine, [Rule("cal", "calendars", "created_at",
                                         dt.timedelta(days=1))]) == {"cal": 0}
    finally:
        await engine.dispose()


def test_spool_leftovers_go_after_their_time_and_the_live_spool_stays(tmp_path: Path) -> None:
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=40)).timestamp()
    names = {"publish.spool": old, "publish.lock": old, "publish.torn": old,
             "publish.spool.tmp": old, "publish.rejected.jsonl": None, "other.torn": None}
    for name, mtime in names.items():
        path = tmp_path / name
        path.write_bytes(b"x")
        if mtime is not None:
            os.utime(path, (mtime, mtime))
    removed = prune_spool_leftovers(tmp_path, dt.timedelta(days=30))
    assert removed == ["publish.spool.tmp", "publish.torn"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "other.torn", "publish.lock", "publish.rejected.jsonl", "publish.spool"]
    assert prune_spool_leftovers(tmp_path / "absent", dt.timedelta(days=30)) == []


async def test_the_pruning_job_removes_old_spool_leftovers(tmp_path: Path) -> None:

    spool = tmp_path / "spool"
    spool.mkdir()
    torn = spool / "publish.torn"
    torn.write_bytes(b"torn bytes")
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).timestamp()
    os.utime(torn, (old, old))
    settings = make_settings(sqlite_url(tmp_path), SPOOL_DIR=str(spool),
                             SPOOL_LEFTOVER_TTL_DAYS=2, RETENTION_INTERVAL_SECONDS=1)
    engine = create_engine(settings.database_url)
    try:
        async with pruning(engine, settings):
            for _ in range(100):
                if not torn.exists():
                    break
                await asyncio.sleep(0.05)
            # Let that tick finish its database part before the job is stopped (the next
            # one is a second away), so no connection is cut mid-query.
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()
    assert not torn.exists()
