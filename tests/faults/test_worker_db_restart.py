"""Postgres restarted under a running publish worker (the worker's pool has no pre-ping).

A real worker process (tests/faults/worker_proc.py: the production Worker and its own pool,
`worker_engine`, which skips pre-ping to save three round trips per checkout) publishes to the
fake TikTok + Instagram over loopback while the test stops its own Postgres cluster for real
(`-m immediate`: every connection cut) and starts it again. What must hold: the same worker
process carries on without a restart (SQLAlchemy renews the pool on the first disconnect), every
intent ends settled with its reason, and the fake's ledger never shows a second post for one
intent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.core.db import create_engine
from tests.fakes.channels_server import (
    FakeChannelsConfig,
    FakeChannelsServer,
    fake_channels,
    fake_channels_server,
)
from tests.faults.test_worker_kill import settled, start_worker
from tests.fixtures.apps import make_settings
from tests.fixtures.pg_cluster import PgCluster, owned_pg, pg_cluster
from tests.fixtures.processes import stop
from tests.publishing.conftest import seed_calendar
from tests.publishing.fake_gateway import FakePlatformGateway, fake_env
from tests.publishing.helpers import add_connection, intent_rows, queue

__all__ = ["fake_channels", "fake_channels_server", "owned_pg", "pg_cluster"]

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

USERS = 25  # one TikTok video and one Instagram reel each: 50 intents
LEASE = 12.0  # seconds; the heartbeat renews it every LEASE / 3


@pytest.fixture
def cluster_url(owned_pg: PgCluster) -> str:
    return owned_pg.create_database()  # sync: migrating runs its own event loop


@pytest.fixture
async def cluster_engine(cluster_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(cluster_url)  # pre-ping: the test's own reads survive the restart
    yield engine
    await engine.dispose()


async def _published(engine: AsyncEngine) -> int:
    while True:
        try:
            return sum(r.status == "published" for r in await intent_rows(engine))
        except Exception:  # the database is down right now; ask again
            await asyncio.sleep(0.1)


async def test_worker_carries_on_across_a_postgres_restart_without_double_posts(
    owned_pg: PgCluster, cluster_url: str, cluster_engine: AsyncEngine,
    fake_channels: FakeChannelsServer, tmp_path: Path,
) -> None:
    fake = fake_channels
    fake.control.reset(FakeChannelsConfig(latency=0.2, ig_processing_polls=0,
                                          tiktok_processing_polls=0))
    engine = cluster_engine
    settings = make_settings(cluster_url, PUBLISH_SERVICE_ENABLED=True,
                             SPOOL_DIR=str(tmp_path / "s"), **fake_env(fake.url))
    async with httpx.AsyncClient() as http:
        gateway = FakePlatformGateway(http, fake.url)
        for n in range(USERS):
            user = f"user-{n}"
            for channel in ("tiktok", "instagram"):
                acct = fake.control.add_account(channel)
                await add_connection(engine, settings, channel, user, token=acct.token,
                                     account_id=acct.account_id)
            cal, _ = await seed_calendar(engine, user, entries=[
                {"channel": "tiktok", "format": "video", "caption": f"{user} tt"},
                {"channel": "instagram", "format": "reel", "caption": f"{user} ig"}])
            outcome = await queue(engine, settings, gateway, cal, user_id=user)
            assert outcome.body.summary.queued == 2

    log = tmp_path / "worker.log"
    # A lease longer than the fenced writes' retries (~8 s, claims._WRITE_RETRY_DELAYS), as in
    # production (60 s): with the kill test's 2 s lease, the worker's own claim loop takes back
    # an intent whose owner is still retrying the save of its publish_id the moment Postgres
    # is back, and a TikTok post without its publish_id can only go to a human.
    worker = start_worker(settings, fake, log, lease=LEASE)
    try:
        deadline = time.monotonic() + 60
        while await _published(engine) < 3:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.05)
        down = time.monotonic()
        owned_pg.stop()  # mid-burst: the worker's pooled connections are all cut
        await asyncio.sleep(1.0)
        owned_pg.start()
        outage = time.monotonic() - down
        await engine.dispose()  # the test's own pool; the worker must renew its own
        at_restart = await _published(engine)
        rows: list[Any] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            rows = await intent_rows(engine)
            if all(settled(r) for r in rows):
                break
            await asyncio.sleep(0.2)
        alive = worker.poll() is None
    finally:
        stop(worker, timeout=10)

    state = sorted((r.channel, r.status, (r.error or {}).get("code")) for r in rows
                   if r.status != "published")
    assert alive, "the worker process died with the database: " + log.read_text()[-3000:]
    assert len(rows) == 2 * USERS
    assert all(settled(r) for r in rows), (state, log.read_text()[-3000:])
    published = [r for r in rows if r.status == "published"]
    assert len(published) > at_restart, "nothing was published after the restart"
    # The judge: never a second post for one intent.
    assert fake.control.duplicates() == {}
    live = fake.control.live_posts()
    assert len(published) <= len(live) <= len(rows), (len(published), len(live), state)
    for r in rows:
        if r.status != "published":
            # Only a TikTok post cut off between its init and the saving of its publish_id
            # can end `unknown` (TikTok has no lookup); the reason is recorded for a human.
            assert r.channel == "tiktok" and r.status == "unknown", state
            assert r.error and r.error.get("code"), state
    assert all(r.status == "published" for r in rows if r.channel == "instagram"), state
    if outage < 6.0:
        # Writes after the platform call are retried for ~8 s (claims._WRITE_RETRY_DELAYS):
        # an outage this short leaves no TikTok post without its saved publish_id.
        assert state == [], (outage, state)
    print(f"\nworker across a Postgres restart: {len(published)}/{len(rows)} published "
          f"({at_restart} before the restart, outage {outage:.1f} s), "
          f"live posts={len(live)}, duplicates=0, left for a human: {state}")
