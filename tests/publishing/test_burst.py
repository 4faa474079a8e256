"""A burst of 1,000 live intents (500 users × TikTok + Instagram) through two racing workers:
the fake's count of live posts equals the intents published, and no caption posts twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from postplan.config import Settings
from postplan.core.db import create_engine
from tests.fakes.channels_server import (
    FakeChannelsConfig,
    FakeChannelsServer,
    fake_channels,
    fake_channels_server,
)
from tests.publishing.fake_gateway import FakePlatformGateway, fake_env
from tests.publishing.helpers import make_worker, seed_users, statuses

__all__ = ["fake_channels", "fake_channels_server"]

pytestmark = [pytest.mark.slow, pytest.mark.live, pytest.mark.timeout(900)]

USERS = 500


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as c:
        yield c


async def test_burst_of_1000_intents_posts_each_exactly_once(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings], engine: Any,
    db_url: str, http: httpx.AsyncClient,
) -> None:
    fake = fake_channels
    fake.control.reset(FakeChannelsConfig(ig_processing_polls=0))
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **fake_env(fake.url))
    gateway = FakePlatformGateway(http, fake.url)
    queued = await seed_users(engine, settings, fake, [f"burst-{i}" for i in range(USERS)],
                              gateway)
    assert queued == 2 * USERS
    assert await statuses(engine) == {"pending": 2 * USERS}

    other = create_engine(db_url)
    try:
        workers = [make_worker(e, settings, gateway, concurrency=32, poll_delays=(0.05,),
                               inline_poll_budget=5.0) for e in (engine, other)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(w.run(stop)) for w in workers]
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            counts = await statuses(engine)
            if sum(n for s, n in counts.items()
                   if s in ("published", "failed", "unknown", "needs_reauth")) == 2 * USERS:
                break
            await asyncio.sleep(0.25)
        stop.set()
        await asyncio.gather(*tasks)
    finally:
        await other.dispose()
    counts = await statuses(engine)
    assert counts == {"published": 2 * USERS}, counts
    assert len(fake.control.live_posts()) == 2 * USERS
    assert fake.control.duplicates() == {}
