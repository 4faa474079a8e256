"""A burst of 1,000 live intents (500 users × TikTok + Instagram) through two racing worker
processes: the fake's count of live posts equals the intents published, and no caption posts
twice.

The workers are real processes (tests/faults/worker_proc.py: the production Worker and pool)
talking to the fake over loopback; the fake's uvicorn thread then has this process to itself
(sharing it with in-process workers made it the bottleneck: ~1 minute per database).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from postplan.config import Settings
from tests.fakes.channels_server import (
    FakeChannelsConfig,
    FakeChannelsServer,
    fake_channels,
    fake_channels_server,
)
from tests.fixtures.processes import stop
from tests.publishing.fake_gateway import FakePlatformGateway, fake_env
from tests.publishing.helpers import seed_users, statuses

__all__ = ["fake_channels", "fake_channels_server"]

pytestmark = [pytest.mark.slow, pytest.mark.live, pytest.mark.timeout(900)]

USERS = 500
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as c:
        yield c


def _worker(settings: Settings, fake: FakeChannelsServer, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **fake_env(fake.url), "FAKE_BASE": fake.url,
           "DATABASE_URL": settings.database_url, "PUBLISH_SERVICE_ENABLED": "true",
           "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT), "LEASE": "30", "POLL": "0.05",
           "CONCURRENCY": "32", "DATABASE_POOL_SIZE": "16", "FAKE_TIMEOUT": "30"}
    return subprocess.Popen([sys.executable, "-m", "tests.faults.worker_proc"], cwd=ROOT,
                            env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


async def test_burst_of_1000_intents_posts_each_exactly_once(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings], engine: Any,
    http: httpx.AsyncClient, tmp_path: Path,
) -> None:
    fake = fake_channels
    fake.control.reset(FakeChannelsConfig(ig_processing_polls=0))
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **fake_env(fake.url))
    gateway = FakePlatformGateway(http, fake.url)
    queued = await seed_users(engine, settings, fake, [f"burst-{i}" for i in range(USERS)],
                              gateway)
    assert queued == 2 * USERS
    assert await statuses(engine) == {"pending": 2 * USERS}

    log = tmp_path / "workers.log"
    workers = [_worker(settings, fake, log) for _ in range(2)]
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            counts = await statuses(engine)
            if sum(n for s, n in counts.items()
                   if s in ("published", "failed", "unknown", "needs_reauth")) == 2 * USERS:
                break
            assert all(w.poll() is None for w in workers), log.read_text()[-3000:]
            await asyncio.sleep(0.25)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)  # both at once; `stop` then waits (or kills)
        for w in workers:
            stop(w, timeout=10)
    counts = await statuses(engine)
    assert counts == {"published": 2 * USERS}, counts
    assert len(fake.control.live_posts()) == 2 * USERS
    assert fake.control.duplicates() == {}
