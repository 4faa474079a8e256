"""Issue 15 end to end through uvicorn, the worker and the fake TikTok + Instagram: an edited
hook and call to action reach the post (one composed text), the preview shows that text, the
TikTok choices are required and checked, the first comment is its own step, and an ambiguous
Instagram answer settles in seconds without a second post."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from postplan.config import Settings
from postplan.publishing.worker.context import reconcile_schedule
from tests.fakes.channels.state import Fault
from tests.fakes.channels_server import (
    FakeChannelsConfig,
    FakeChannelsServer,
    fake_channels,
    fake_channels_server,
)
from tests.fixtures.apps import build_app, live_server
from tests.publishing.conftest import connect, seed_calendar
from tests.publishing.fake_gateway import FakePlatformGateway, fake_env
from tests.publishing.helpers import (
    add_connection,
    attempt_rows,
    intent_rows,
    make_worker,
    queue,
    settle,
    statuses,
)

__all__ = ["fake_channels", "fake_channels_server"]

pytestmark = pytest.mark.live

GENERATED = {"hook": "Old hook", "caption": "Old hook\n\nThe body of the post.\n\nOld CTA",
             "call_to_action": "Old CTA", "hashtags": ["coffee"]}
COMPOSED = "New hook\n\nThe body of the post.\n\nNew CTA\n\n#coffee"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def test_edited_hook_and_cta_reach_both_platforms_with_choices_and_first_comment(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings], engine: Any,
    http: httpx.AsyncClient,
) -> None:
    fake = fake_channels
    fake.control.reset(FakeChannelsConfig(ig_processing_polls=0))
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **fake_env(fake.url))
    tt = fake.control.add_account("tiktok", comment_disabled=True)
    ig = fake.control.add_account("instagram")
    cal, (tt_id, ig_id) = await seed_calendar(engine, entries=[
        {"channel": "tiktok", "format": "video", "channel_options": {}, **GENERATED},
        {"channel": "instagram", "format": "reel", **GENERATED},
    ])
    gateway = FakePlatformGateway(http, fake.url)
    app = build_app(settings)
    app.state.channel_gateway = gateway
    with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            for channel, acct in (("tiktok", tt), ("instagram", ig)):
                await connect(client, channel, accessToken=acct.token,
                              accountId=acct.account_id, refreshToken=None)

            info = await client.get("/v1/channels/tiktok/creator-info")
            assert info.status_code == 200, info.text
            creator = info.json()
            assert creator["nickname"] == tt.username.title()
            assert "PUBLIC_TO_EVERYONE" in creator["privacyLevelOptions"]
            assert creator["commentDisabled"] is True
            assert set(creator) >= {"avatarUrl", "duetDisabled", "stitchDisabled",
                                    "maxVideoPostDurationSec"}

            base = f"/v1/calendars/{cal}/entries"
            for entry_id in (tt_id, ig_id):
                resp = await client.patch(f"{base}/{entry_id}", headers={"If-Match": "1"},
                                          json={"hook": "New hook", "callToAction": "New CTA"})
                assert resp.status_code == 200, resp.text
            wrong = await client.patch(f"{base}/{tt_id}", json={
                "channelOptions": {"instagram": {"firstComment": "hi"}}})
            assert wrong.status_code == 422
            assert wrong.json()["code"] == "channel_options_mismatch"
            branded = await client.patch(f"{base}/{tt_id}", json={"channelOptions": {"tiktok": {
                "privacyLevel": "SELF_ONLY", "brandContentToggle": True}}})
            assert branded.json()["code"] == "tiktok_branded_content_private"
            too_long = await client.patch(f"{base}/{ig_id}", json={
                "channelOptions": {"instagram": {"firstComment": "x" * 2201}}})
            assert too_long.status_code == 422

            # No privacy level chosen: the dry run reports it, a live publish is refused.
            dry = await client.post(f"/v1/calendars/{cal}/publish", json={"when": "now"})
            codes = {f["code"] for r in dry.json()["results"] if r["error"]
                     for f in r["error"]["findings"]}
            assert {"tiktok_privacy_required", "tiktok_music_not_confirmed"} <= codes
            live = {"dryRun": False, "when": "now"}
            # The TikTok post alone: with another post queued in the same call only the item
            # would fail (207); a call where nothing could go out is refused outright.
            tiktok_only = {**live, "channels": ["tiktok"]}
            refused = await client.post(f"/v1/calendars/{cal}/publish", json=tiktok_only)
            assert refused.status_code == 422
            assert refused.json()["code"] == "tiktok_privacy_required"

            # Choices the creator's own settings refuse: 422 before anything is recorded.
            for choice, code in (({"privacyLevel": "FOLLOWER_OF_CREATOR"},
                                  "tiktok_privacy_not_offered"),
                                 ({"privacyLevel": "PUBLIC_TO_EVERYONE", "disableComment": False},
                                  "tiktok_interaction_disabled")):
                resp = await client.patch(f"{base}/{tt_id}", json={"channelOptions": {
                    "tiktok": {**choice, "musicUsageConfirmed": True}}})
                assert resp.status_code == 200, resp.text
                refused = await client.post(f"/v1/calendars/{cal}/publish", json=tiktok_only)
                assert refused.status_code == 422, refused.text
                assert refused.json()["code"] == code
            resp = await client.patch(f"{base}/{tt_id}", json={"channelOptions": {"tiktok": {
                "privacyLevel": "PUBLIC_TO_EVERYONE", "musicUsageConfirmed": True,
                "disableDuet": True, "isAigc": True}}})
            assert resp.status_code == 200, resp.text
            assert resp.json()["channelOptions"]["tiktok"]["privacyLevel"] == \
                "PUBLIC_TO_EVERYONE"
            resp = await client.patch(f"{base}/{ig_id}", json={"channelOptions": {
                "instagram": {"firstComment": "First!", "shareToFeed": False,
                              "collaborators": ["friend.one"], "thumbOffsetMs": 1500}}})
            assert resp.status_code == 200, resp.text

            preview = await client.get(f"{base}/{tt_id}/preview")
            assert preview.status_code == 200, preview.text
            (tt_view,) = preview.json()["channels"]
            assert tt_view["text"] == COMPOSED and tt_view["findings"] == []
            assert tt_view["privacyLevel"] == "PUBLIC_TO_EVERYONE"
            body = tt_view["payload"]["requests"][1]["body"]["post_info"]
            assert body["title"] == COMPOSED and body["disable_duet"] and body["is_aigc"]
            assert (await client.get(f"{base}/{ig_id}/preview")).json()["channels"][0][
                "text"] == COMPOSED
            other = await client.get(f"{base}/{tt_id}/preview", headers={"X-User-Id": "eve"})
            assert other.status_code == 404

            resp = await client.post(f"/v1/calendars/{cal}/publish", json=live)
            assert resp.status_code == 200, resp.text
            worker = make_worker(engine, settings, gateway, poll_delays=(0.05,),
                                 inline_poll_budget=5.0)
            await settle(engine, worker)
    rows = await intent_rows(engine)
    assert {r.status for r in rows if not r.dry_run} == {"published"}, \
        [(r.status, r.error) for r in rows]
    posts = fake.control.live_posts()
    assert sorted(p.channel for p in posts) == ["instagram", "tiktok"]
    assert all(p.caption == COMPOSED for p in posts), [p.caption for p in posts]
    reel = next(ct for ct in fake.control.containers.values() if ct.account_id == ig.account_id)
    assert reel.params["share_to_feed"] == "false" and reel.params["thumb_offset"] == "1500"
    assert "friend.one" in reel.params["collaborators"]
    assert [c["message"] for c in fake.control.comments] == ["First!"]
    ig_row = next(r for r in rows if r.channel == "instagram" and not r.dry_run)
    attempts = await attempt_rows(engine, ig_row.id)
    steps = [(a.step, a.outcome) for a in attempts]
    assert ("first_comment", "ok") in steps, [(a.step, a.outcome, a.error) for a in attempts]


async def test_failed_first_comment_leaves_the_post_published_and_unsent_again(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings], engine: Any,
    http: httpx.AsyncClient,
) -> None:
    fake = fake_channels
    fake.control.reset(FakeChannelsConfig(ig_processing_polls=0))
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **fake_env(fake.url))
    ig = fake.control.add_account("instagram")
    await add_connection(engine, settings, "instagram", token=ig.token, account_id=ig.account_id)
    cal, _ = await seed_calendar(engine, entries=[{
        "channel": "instagram", "format": "reel",
        "channel_options": {"instagram": {"firstComment": "Link in bio"}}}])
    fake.control.faults.append(Fault("/comments", status=500, times=None))
    gateway = FakePlatformGateway(http, fake.url)
    await queue(engine, settings, gateway, cal)
    await settle(engine, make_worker(engine, settings, gateway))
    (row,) = await intent_rows(engine)
    assert row.status == "published" and row.platform_post_id
    steps = [(a.step, a.outcome) for a in await attempt_rows(engine, row.id)]
    assert ("first_comment", "failed") in steps
    assert len(fake.control.live_posts()) == 1 and fake.control.comments == []


async def test_ambiguous_instagram_publish_settles_in_seconds_without_a_second_post(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings], engine: Any,
    http: httpx.AsyncClient,
) -> None:
    fake = fake_channels
    fake.control.reset(FakeChannelsConfig(ig_processing_polls=0))
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, RECONCILE_FIRST_SECONDS="0.3",
                                **fake_env(fake.url))
    assert settings.reconcile_first_seconds == 0.3
    assert reconcile_schedule(5.0)[0] <= 15  # the default first look
    ig = fake.control.add_account("instagram")
    await add_connection(engine, settings, "instagram", token=ig.token, account_id=ig.account_id)
    cal, _ = await seed_calendar(engine, entries=[
        {"channel": "instagram", "format": "reel", "caption": "lands"},
        {"channel": "instagram", "format": "image", "caption": "does not land",
         "media": [{"url": "https://cdn.example.com/a.jpg", "type": "image"}]}])
    # The first publish goes through and answers 500; the second answers 500 without posting.
    fake.control.faults.append(Fault("/media_publish", kind="error_after", times=1))
    fake.control.faults.append(Fault("/media_publish", status=500, times=1))
    gateway = FakePlatformGateway(http, fake.url)
    await queue(engine, settings, gateway, cal)
    worker = make_worker(engine, settings, gateway,
                         reconcile_delays=reconcile_schedule(settings.reconcile_first_seconds))
    started = time.monotonic()
    while time.monotonic() - started < 20:
        await worker.run_once()
        if set(await statuses(engine)) <= {"published", "failed"}:
            break
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - started
    rows = await intent_rows(engine)
    assert {r.status for r in rows} == {"published"}, [(r.status, r.error) for r in rows]
    assert elapsed < 10, elapsed
    assert len(fake.control.live_posts()) == 2 and fake.control.duplicates() == {}
    for row in rows:
        steps = [a.step for a in await attempt_rows(engine, row.id)]
        assert "reconcile" in steps
