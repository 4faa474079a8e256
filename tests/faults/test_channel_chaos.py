"""The fake TikTok + Instagram failing 20 % of calls: 5xx, rate limits and timeouts.

Every request the adapters make to the fake platform has a one-in-five chance of a fault (a
random 500/502/503, a 429 rate limit, or a hang past the client timeout). The production
Worker publishes a batch of live intents through it. What must hold: every intent ends in a
final state (published, failed, needs_reauth, or unknown handed to a human) with its reason
recorded, and the platform's ledger never shows a post twice.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.config import Settings
from tests.fakes.channels_server import (
    FakeChannelsConfig,
    FakeChannelsServer,
    Fault,
    fake_channels,
    fake_channels_server,
)
from tests.publishing.conftest import engine, seed_calendar
from tests.publishing.fake_gateway import FakePlatformGateway, fake_env
from tests.publishing.helpers import Clock, add_connection, intent_rows, make_worker, queue

__all__ = ["engine", "fake_channels", "fake_channels_server"]

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

FAULT_RATE = 0.20
TERMINAL = {"published", "failed", "needs_reauth"}


@pytest.fixture
def backend() -> str:
    return "sqlite"


def settled(row: Any) -> bool:
    return row.status in TERMINAL or (row.status == "unknown" and bool(row.error))


def chaos(fake: FakeChannelsServer, rng: random.Random, injected: Counter[str]) -> None:
    """Replace the fake's scripted-fault lookup with a 20 % random one on API paths."""

    def match_fault(method: str, target: str) -> Fault | None:
        if "/oauth" in target or "access_token" in target or rng.random() >= FAULT_RATE:
            return None
        kind = rng.choice(["status", "status", "rate_limit", "hang"])
        injected[kind] += 1
        if kind == "status":
            return Fault(target, "status", status=rng.choice([500, 502, 503]))
        return Fault(target, kind)

    fake.control.match_fault = match_fault  # type: ignore[method-assign]


async def test_twenty_percent_platform_failures_every_intent_ends_with_a_reason(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings],
    engine: AsyncEngine,
) -> None:
    fake = fake_channels
    # The hang outlasts the adapters' client timeout: a real timeout on the worker's side.
    fake.control.reset(FakeChannelsConfig(ig_processing_polls=1, tiktok_processing_polls=1,
                                          hang_seconds=1.5, tiktok_daily_cap=100,
                                          ig_quota_total=100))
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **fake_env(fake.url))
    tt = fake.control.add_account("tiktok")
    ig = fake.control.add_account("instagram")
    await add_connection(engine, settings, "tiktok", token=tt.token, account_id=tt.account_id)
    await add_connection(engine, settings, "instagram", token=ig.token,
                         account_id=ig.account_id)
    cal, _ = await seed_calendar(engine, count=16)
    injected: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=0.5) as http:
        gateway = FakePlatformGateway(http, fake.url)
        outcome = await queue(engine, settings, gateway, cal)
        assert outcome.body.summary.queued == 16
        chaos(fake, random.Random(8), injected)
        clock = Clock()
        worker = make_worker(engine, settings, gateway, clock=clock, poll_delays=(0.05,),
                             retry_base=0.05, retry_cap=0.2, reconcile_delays=(0.05, 0.1, 0.2),
                             concurrency=8)
        rows: list[Any] = []
        for _ in range(400):
            await worker.run_once()
            clock.advance(30)
            rows = await intent_rows(engine)
            if all(settled(r) for r in rows):
                break
            await asyncio.sleep(0.01)

    state = Counter(r.status for r in rows)
    assert sum(injected.values()) >= 5, injected  # the chaos really happened
    assert all(settled(r) for r in rows), (state, injected)
    for r in rows:
        if r.status != "published":
            assert r.error and r.error.get("code") and r.error.get("message"), (r.status, r.error)
    assert fake.control.duplicates() == {}
    published = [r for r in rows if r.status == "published"]
    assert len(published) <= len(fake.control.live_posts()) <= len(rows)
    assert state["published"] >= len(rows) // 2, (state, injected)
    print(f"\nchaos: injected={dict(injected)} final={dict(state)} "
          f"live posts={len(fake.control.live_posts())} duplicates=0")
