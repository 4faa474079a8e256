"""The worker re-checks what it reads back: a stored intent changed behind postplan's back (a
direct write to the database) is refused and never sent, through the real worker, real adapters
and the fake TikTok + Instagram on loopback, on SQLite and Postgres."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.config import Settings
from tests.fakes.channels_server import (
    FakeChannelsConfig,
    FakeChannelsServer,
    fake_channels,
    fake_channels_server,
)
from tests.publishing.conftest import seed_calendar
from tests.publishing.fake_gateway import FakePlatformGateway, fake_env
from tests.publishing.helpers import (
    add_connection,
    attempt_rows,
    intent_rows,
    make_worker,
    queue,
)

__all__ = ["fake_channels", "fake_channels_server"]

pytestmark = pytest.mark.live


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def _connected(fake: FakeChannelsServer, engine: AsyncEngine,
                     settings_factory: Callable[..., Settings]) -> Settings:
    fake.control.reset(FakeChannelsConfig(ig_processing_polls=0))
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **fake_env(fake.url))
    for channel in ("tiktok", "instagram"):
        acct = fake.control.add_account(channel)
        await add_connection(engine, settings, channel, token=acct.token,
                             account_id=acct.account_id)
    return settings


async def _tamper(engine: AsyncEngine, intent_id: uuid.UUID, **values: Any) -> None:
    """A direct write to the row, as a user with write access to the table could make."""
    from postplan.publishing.tables import intents

    async with engine.begin() as conn:
        await conn.execute(update(intents).where(intents.c.id == intent_id).values(**values))


async def _run(engine: AsyncEngine, settings: Settings, gateway: FakePlatformGateway) -> None:
    worker = make_worker(engine, settings, gateway, poll_delays=(0.05,),
                         inline_poll_budget=5.0)
    idle = 0
    while idle < 3:  # every intent here is due now; a few idle rounds mean nothing is left
        idle = idle + 1 if await worker.run_once() == 0 else 0


def _by_caption(rows: list[Any]) -> dict[str, Any]:
    return {r.request["caption"].split("\n")[0]: r for r in rows}


async def test_a_tampered_stored_request_is_refused_and_nothing_is_sent_or_fetched(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings],
    engine: AsyncEngine, http: httpx.AsyncClient,
) -> None:
    fake = fake_channels
    settings = await _connected(fake, engine, settings_factory)
    cal, _ = await seed_calendar(engine, entries=[
        {"channel": "tiktok", "format": "video", "caption": caption}
        for caption in ("upload", "metadata", "other-intent", "untouched")
    ] + [{"channel": "instagram", "format": "reel", "caption": caption}
         for caption in ("cover", "privacy", "extra-key")])
    gateway = FakePlatformGateway(http, fake.url)
    outcome = await queue(engine, settings, gateway, cal)
    assert outcome.body.summary.queued == 7
    rows = _by_caption(await intent_rows(engine))

    def changed(caption: str, **fields: Any) -> dict[str, Any]:
        return {**rows[caption].request, **fields}

    # The worker itself would download this (TikTok FILE_UPLOAD): an internal address.
    await _tamper(engine, rows["upload"].id, request=changed(
        "upload", options={"source": "FILE_UPLOAD"},
        media=[{"url": f"{fake.url}/media/internal.mp4?size=2048", "type": "video"}]))
    await _tamper(engine, rows["metadata"].id, request=changed(
        "metadata", media=[{"url": "https://169.254.169.254/latest/meta-data", "type": "video"}]))
    await _tamper(engine, rows["other-intent"].id, request=changed(
        "other-intent", intent_id=str(rows["untouched"].id)))
    await _tamper(engine, rows["cover"].id, request=changed(
        "cover", options={"cover_url": "https://metadata.google.internal/x.jpg"}))
    await _tamper(engine, rows["privacy"].id, request=changed(
        "privacy", privacy_level="PUBLIC_TO_EVERYONE"))
    await _tamper(engine, rows["extra-key"].id, request=changed(
        "extra-key", video_url="https://cdn.example.com/other.mp4"))

    calls_before = len(fake.control.calls)
    await _run(engine, settings, gateway)

    after = _by_caption(await intent_rows(engine))
    assert after["untouched"].status == "published"
    for caption, row in after.items():
        if caption == "untouched":
            continue
        assert row.status == "failed", (caption, row.status, row.error)
        assert row.error["code"] == "invalid_stored_request", (caption, row.error)
        assert row.error["findings"], caption
    assert after["upload"].error["findings"][0]["code"] == "option_not_allowed"
    assert after["metadata"].error["findings"][0]["code"] == "media_url_invalid"
    assert after["other-intent"].error["findings"][0]["code"] == "intent_mismatch"
    # Only the untouched TikTok post reached the platform; no URL was fetched.
    paths = [path for _, path in fake.control.calls[calls_before:]]
    assert not [p for p in paths if "/media" in p], paths
    assert fake.control.calls_to("/video/init/") == 1
    assert [p.caption for p in fake.control.live_posts()] == ["untouched\n\n#tag"]


async def test_a_published_intent_set_back_to_pending_is_not_posted_again(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings],
    engine: AsyncEngine, http: httpx.AsyncClient,
) -> None:
    fake = fake_channels
    settings = await _connected(fake, engine, settings_factory)
    cal, _ = await seed_calendar(engine, entries=[
        {"channel": "tiktok", "format": "video", "caption": "tt"},
        {"channel": "instagram", "format": "reel", "caption": "ig"},
    ])
    gateway = FakePlatformGateway(http, fake.url)
    await queue(engine, settings, gateway, cal)
    await _run(engine, settings, gateway)
    rows = _by_caption(await intent_rows(engine))
    assert {r.status for r in rows.values()} == {"published"}
    assert len(fake.control.live_posts()) == 2
    # TikTok goes live on a status poll: that poll's attempt row is the trace that remains.
    tt_steps = [(a.step, a.outcome) for a in await attempt_rows(engine, rows["tt"].id)]
    assert tt_steps[-1] == ("poll", "published"), tt_steps

    now = dt.datetime.now(dt.UTC)
    # The post id kept; and one with every trace on the row wiped (the attempt log remains).
    await _tamper(engine, rows["ig"].id, status="pending", run_after=now)
    await _tamper(engine, rows["tt"].id, status="pending", run_after=now, platform_post_id=None,
                  platform_handle=None, error=None, submitted_at=None)
    calls_before = len(fake.control.calls)
    await _run(engine, settings, gateway)

    assert fake.control.calls[calls_before:] == []
    assert len(fake.control.live_posts()) == 2 and fake.control.duplicates() == {}
    after = _by_caption(await intent_rows(engine))
    for row in after.values():
        assert row.status == "failed"
        assert row.error["code"] == "already_published"
    assert after["ig"].platform_post_id == rows["ig"].platform_post_id
