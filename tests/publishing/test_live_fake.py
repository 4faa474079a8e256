"""End to end: the API on real uvicorn, the worker, real adapters, the fake TikTok + Instagram.

The fake's side-effect ledger is the judge: live posts must equal published intents, no caption
posted twice.
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
from tests.publishing.conftest import connect, seed_calendar
from tests.publishing.fake_gateway import FakePlatformGateway, fake_env
from tests.publishing.helpers import intent_rows, make_worker, run_until_idle, statuses

__all__ = ["fake_channels", "fake_channels_server"]

pytestmark = pytest.mark.live


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def _fast(fake: FakeChannelsServer, **overrides: Any) -> None:
    fake.control.reset(FakeChannelsConfig(ig_processing_polls=0, **overrides))


async def test_publish_through_uvicorn_posts_exactly_once_with_partial_success(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings], engine: Any,
    http: httpx.AsyncClient,
) -> None:
    fake = fake_channels
    _fast(fake)
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **fake_env(fake.url))
    tt = fake.control.add_account("tiktok")
    ig = fake.control.add_account("instagram")
    cal, _ = await seed_calendar(engine, entries=[
        {"channel": "tiktok", "format": "video", "caption": "tt ok"},
        {"channel": "tiktok", "format": "video", "caption": "tt fail:spam_risk_text"},
        {"channel": "instagram", "format": "reel", "caption": "ig ok"},
        {"channel": "instagram", "format": "image", "caption": "ig no media", "media": []},
    ])
    gateway = FakePlatformGateway(http, fake.url)
    app = build_app(settings)
    app.state.channel_gateway = gateway
    with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            for channel, acct in (("tiktok", tt), ("instagram", ig)):
                resp = await connect(client, channel, accessToken=acct.token,
                                     accountId=acct.account_id, refreshToken=None)
                assert acct.token not in resp.text
            calls_before = len(fake.control.calls)
            dry = await client.post(f"/v1/calendars/{cal}/publish", json={"when": "now"})
            assert dry.status_code == 207
            assert len(fake.control.calls) == calls_before  # a dry run never calls out
            resp = await client.post(f"/v1/calendars/{cal}/publish",
                                     json={"dryRun": False, "when": "now"},
                                     headers={"Idempotency-Key": "live-1"})
            assert resp.status_code == 207, resp.text
            summary = resp.json()["summary"]
            assert summary["queued"] == 3 and summary["failed"] == 1
            clock = None
            worker = make_worker(engine, settings, gateway, poll_delays=(0.05,),
                                 inline_poll_budget=5.0)
            for _ in range(100):
                await run_until_idle(worker, clock, rounds=5)
                if set(await statuses(engine)) <= {"published", "failed"}:
                    break
                await asyncio.sleep(0.05)
            listed = (await client.get("/v1/publish-intents",
                                       params={"calendarId": str(cal)})).json()["items"]
    by_caption = {r.request["caption"].split("\n")[0]: r for r in await intent_rows(engine)}
    assert by_caption["tt ok"].status == "published"
    assert by_caption["ig ok"].status == "published"
    assert by_caption["tt fail:spam_risk_text"].status == "failed"
    assert by_caption["tt fail:spam_risk_text"].error["platformCode"]
    assert by_caption["ig no media"].status == "failed"
    published = [r for r in await intent_rows(engine) if r.status == "published"]
    assert len(fake.control.live_posts()) == len(published) == 2
    assert fake.control.duplicates() == {}
    assert {i["status"] for i in listed} == {"dry_run", "published", "failed"}


async def test_transient_platform_errors_are_retried_to_published(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings], engine: Any,
    http: httpx.AsyncClient,
) -> None:
    from tests.publishing.helpers import Clock, add_connection, queue

    fake = fake_channels
    _fast(fake)
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **fake_env(fake.url))
    tt = fake.control.add_account("tiktok")
    ig = fake.control.add_account("instagram")
    await add_connection(engine, settings, "tiktok", token=tt.token, account_id=tt.account_id)
    await add_connection(engine, settings, "instagram", token=ig.token,
                         account_id=ig.account_id)
    cal, _ = await seed_calendar(engine, count=2)
    gateway = FakePlatformGateway(http, fake.url)
    await queue(engine, settings, gateway, cal)
    # A 5xx on a read-only preflight and rate limits on the irreversible calls: all retryable
    # (a 5xx on TikTok's init itself would be ambiguous and reconciled, never retried).
    fake.control.fault("/creator_info/", "status", status=500, times=1)
    fake.control.fault("/video/init/", "rate_limit", times=1)
    fake.control.fault("/media_publish", "rate_limit", times=1)
    clock = Clock()
    worker = make_worker(engine, settings, gateway, clock=clock, poll_delays=(0.05,))
    for _ in range(60):
        await run_until_idle(worker, clock, step=120, rounds=3)
        if set(await statuses(engine)) <= {"published", "failed", "unknown"}:
            break
        await asyncio.sleep(0.05)
    rows = await intent_rows(engine)
    assert {r.status for r in rows} == {"published"}, [(r.status, r.error) for r in rows]
    by = {r.channel: r for r in rows}
    assert by["tiktok"].attempts == 3 and by["instagram"].attempts == 2
    assert len(fake.control.live_posts()) == 2
    assert fake.control.duplicates() == {}


async def test_ambiguous_init_failure_is_never_retried_blind(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings], engine: Any,
    http: httpx.AsyncClient,
) -> None:
    from tests.publishing.helpers import Clock, add_connection, queue

    fake = fake_channels
    _fast(fake)
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **fake_env(fake.url))
    tt = fake.control.add_account("tiktok")
    await add_connection(engine, settings, "tiktok", token=tt.token, account_id=tt.account_id)
    cal, _ = await seed_calendar(engine, entries=[{"channel": "tiktok", "format": "video"}])
    gateway = FakePlatformGateway(http, fake.url)
    await queue(engine, settings, gateway, cal)
    # The platform accepts the post, then the connection drops before the answer.
    fake.control.fault("/video/init/", "drop_after", times=1)
    clock = Clock()
    await run_until_idle(make_worker(engine, settings, gateway, clock=clock), clock, step=60)
    (row,) = await intent_rows(engine)
    assert row.status == "unknown"
    assert row.error["code"] == "publish_outcome_unknown"
    assert fake.control.calls_to("/video/init/") == 1
    assert len(fake.control.live_posts()) == 1


async def test_slow_instagram_container_is_reused_on_the_next_attempt_not_recreated(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings], engine: Any,
    http: httpx.AsyncClient,
) -> None:
    from postplan.channels import registry
    from tests.publishing.helpers import Clock, add_connection, attempt_rows, queue

    fake = fake_channels
    # The container answers IN_PROGRESS to its first 6 status reads; the adapter gives up
    # waiting after ~50 ms, so the first attempt ends "not ready yet" with the container id.
    fake.control.reset(FakeChannelsConfig(ig_processing_polls=6))
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **fake_env(fake.url))
    ig = fake.control.add_account("instagram")
    await add_connection(engine, settings, "instagram", token=ig.token,
                         account_id=ig.account_id)
    cal, _ = await seed_calendar(engine, entries=[{"channel": "instagram", "format": "reel"}])
    gateway = FakePlatformGateway(http, fake.url)
    gateway.adapters["instagram"] = registry.get_adapter(
        "instagram", http=http, api_base=fake.url, api_version="v25.0",
        container_poll_interval=0.02, container_poll_max_interval=0.02,
        container_poll_timeout=0.05)
    await queue(engine, settings, gateway, cal)
    clock = Clock()
    worker = make_worker(engine, settings, gateway, clock=clock)
    for _ in range(40):
        await run_until_idle(worker, clock, step=30, rounds=3)
        if set(await statuses(engine)) <= {"published", "failed", "unknown"}:
            break
        await asyncio.sleep(0.05)
    (row,) = await intent_rows(engine)
    assert row.status == "published", (row.status, row.error)
    assert row.attempts >= 2  # the first attempt really did stop at "not ready"
    steps = [(a.step, a.outcome) for a in await attempt_rows(engine, row.id)]
    assert steps.count(("prepare", "RetryLater")) >= 1
    assert [s for s in steps if s[0] == "prepare"] == [("prepare", "RetryLater")]
    containers = [ct for ct in fake.control.containers.values()
                  if ct.account_id == ig.account_id]
    assert len(containers) == 1, "a second container was created for the same post"
    assert row.platform_handle == containers[0].id
    assert len(fake.control.live_posts()) == 1 and fake.control.duplicates() == {}
