"""A person cancels while a worker claims the same intent: cancelled XOR sent, never both.

The API on real uvicorn, the worker with the real TikTok adapter against the fake platform, whose
ledger is the judge. Each round queues one post, then runs one worker pass and the cancel at
once (the cancel a little later each round, so it lands before the claim, between the claim and
`submitting`, and after it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
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
from tests.fixtures.apps import build_app, live_server
from tests.publishing.conftest import seed_calendar
from tests.publishing.fake_gateway import FakePlatformGateway, fake_env
from tests.publishing.helpers import add_connection, intent_rows, make_worker, queue

__all__ = ["fake_channels", "fake_channels_server"]

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]

ROUNDS = 16


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def test_cancel_racing_a_worker_is_cancelled_xor_sent(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings], engine: Any,
    http: httpx.AsyncClient,
) -> None:
    fake = fake_channels
    # Limits off: every round posts to one account within a second.
    fake.control.reset(FakeChannelsConfig(
        ig_processing_polls=0, tiktok_processing_polls=0, tiktok_daily_cap=1000,
        tiktok_pending_share_cap=1000,
        tiktok_limits={"creator_info": 1000, "init": 1000, "status": 1000}))
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **fake_env(fake.url))
    tt = fake.control.add_account("tiktok")
    await add_connection(engine, settings, "tiktok", token=tt.token, account_id=tt.account_id)
    # The worker's gateway as in production: no per-process ledger in the adapters (it would
    # hold the 7th init of the minute back); pacing is the worker's limiter, given room here.
    gateway = FakePlatformGateway(http, fake.url, paced=True)
    worker = make_worker(engine, settings, gateway, inline_poll_budget=2.0,
                         poll_delays=(0.02,))
    app = build_app(settings)
    app.state.channel_gateway = gateway
    answers: dict[str, int] = {}
    with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            for i in range(ROUNDS):
                cal, _ = await seed_calendar(engine, entries=[
                    {"channel": "tiktok", "format": "video", "caption": f"race {i}"}])
                outcome = await queue(engine, settings, gateway, cal)
                intent = str(outcome.body.results[0].intent_id)

                async def cancel(delay: float, intent: str = intent) -> httpx.Response:
                    await asyncio.sleep(delay)
                    return await client.post(f"/v1/publish-intents/{intent}/cancel")

                resp, _ = await asyncio.gather(cancel((i % 8) * 0.004), worker.run_once())
                assert resp.status_code in (200, 409), resp.text
                answers[intent] = resp.status_code
                if resp.status_code == 409:
                    assert resp.json()["sent"] is True, resp.json()
            for _ in range(40):  # finish whatever the cancels did not stop
                if await worker.run_once() == 0:
                    break
    rows = {str(r.id): r for r in await intent_rows(engine)}
    posted = {p.caption.split("\n")[0] for p in fake.control.live_posts()}
    for intent, code in answers.items():
        row = rows[intent]
        caption = row.request["caption"].split("\n")[0]
        if code == 200:
            assert row.status == "cancelled" and caption not in posted, (row.status, caption)
        else:
            assert row.status == "published" and caption in posted, (row.status, row.error)
    assert fake.control.duplicates() == {}
    assert len(fake.control.live_posts()) == sum(c == 409 for c in answers.values())
    # The race really was run both ways.
    assert set(answers.values()) == {200, 409}, answers
