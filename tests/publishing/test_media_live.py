"""End to end with uploaded files: uvicorn, the processing job, the worker, real adapters and
the fake TikTok + Instagram. TikTok receives the stored video's bytes by FILE_UPLOAD; Instagram
pulls the derived JPEG from a signed URL under PUBLIC_BASE_URL, served by postplan itself."""

from __future__ import annotations

import asyncio
import hashlib
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
from tests.fixtures.apps import LiveServer, build_app, free_port
from tests.publishing.conftest import connect, seed_calendar
from tests.publishing.fake_gateway import FakePlatformGateway, fake_env
from tests.publishing.helpers import intent_rows, make_worker, settle
from tests.publishing.media_files import clip, image

__all__ = ["fake_channels", "fake_channels_server"]

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]


@pytest.fixture
def backend() -> str:
    """SQLite only: the media reads run on both databases in the dry-run and entry tests;
    this one is about what reaches the platforms."""
    return "sqlite"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def _ready(client: httpx.AsyncClient, media_id: str) -> dict[str, Any]:
    for _ in range(400):
        body: dict[str, Any] = (await client.get(f"/v1/media/{media_id}")).json()
        if body["status"] != "processing":
            return body
        await asyncio.sleep(0.05)
    raise AssertionError("media still processing")


def _stage(fake: FakeChannelsServer, settings_factory: Callable[..., Settings],
           tmp_path: Path) -> tuple[int, str, Settings]:
    """A reset fake that pulls media like Instagram, and settings for a server on a free port
    whose PUBLIC_BASE_URL it is: (port, base URL, settings)."""
    fake.control.reset(FakeChannelsConfig(ig_processing_polls=0, ig_fetch_media=True))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    return port, base, settings_factory(
        PUBLISH_SERVICE_ENABLED=True, MEDIA_DIR=str(tmp_path / "m"), MEDIA_POLL_SECONDS=0.2,
        PUBLIC_BASE_URL=base, **fake_env(fake.url))


async def _upload(client: httpx.AsyncClient, files: tuple[tuple[str, bytes], ...]
                  ) -> dict[str, str]:
    """Upload each (name, bytes) and wait until it is ready: name → media id."""
    ids = {}
    for name, data in files:
        up = await client.post("/v1/media", files={"file": (name, data)})
        assert up.status_code == 201, up.text
        ready = await _ready(client, up.json()["id"])
        assert ready["status"] == "ready", ready
        ids[name] = ready["id"]
    return ids


async def test_live_publish_sends_stored_bytes_and_signed_urls(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings], engine: Any,
    http: httpx.AsyncClient, tmp_path: Path,
) -> None:
    fake = fake_channels
    port, base, settings = _stage(fake, settings_factory, tmp_path)
    tt = fake.control.add_account("tiktok")
    ig = fake.control.add_account("instagram")
    cal, (video_entry, image_entry) = await seed_calendar(engine, entries=[
        {"channel": "tiktok", "format": "video", "caption": "tt stored", "media": []},
        {"channel": "instagram", "format": "image", "caption": "ig stored", "media": []},
    ])
    video, photo = clip(), image("PNG")
    gateway = FakePlatformGateway(http, fake.url)
    app = build_app(settings)
    app.state.channel_gateway = gateway
    server = LiveServer(app, port=port)
    server.start()
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for channel, acct in (("tiktok", tt), ("instagram", ig)):
                await connect(client, channel, accessToken=acct.token,
                              accountId=acct.account_id, refreshToken=None)
            ids = await _upload(client, (("clip.mp4", video), ("photo.png", photo)))
            for entry, name in ((video_entry, "clip.mp4"), (image_entry, "photo.png")):
                resp = await client.patch(f"/v1/calendars/{cal}/entries/{entry}",
                                          json={"media": [{"mediaId": ids[name]}]})
                assert resp.status_code == 200, resp.text
            dry = await client.post(f"/v1/calendars/{cal}/publish", json={"when": "now"})
            assert dry.status_code == 200, dry.text
            assert [r["error"] for r in dry.json()["results"]] == [None, None]
            live = await client.post(f"/v1/calendars/{cal}/publish",
                                     json={"dryRun": False, "when": "now"},
                                     headers={"Idempotency-Key": "media-live-1"})
            assert live.status_code == 200, live.text
            worker = make_worker(engine, settings, gateway, poll_delays=(0.05,),
                                 inline_poll_budget=5.0)
            await settle(engine, worker)
            jpeg = (await client.get(f"/v1/media/{ids['photo.png']}/content",
                                     params={"role": "instagram-jpeg"})).content
    finally:
        server.stop()
    rows = await intent_rows(engine)
    assert {r.status for r in rows if not r.dry_run} == {"published"}, [
        (r.status, r.error) for r in rows]
    (pub,) = fake.control.publishes.values()
    assert pub.source == "FILE_UPLOAD" and pub.received == len(video)
    assert pub.digest.hexdigest() == hashlib.sha256(video).hexdigest()
    ((url, (status, digest, ctype)),) = fake.control.fetched.items()
    assert url.startswith(f"{base}/v1/media/{ids['photo.png']}/content?")
    assert "sig=" in url and "role=instagram-jpeg" in url
    assert (status, ctype) == (200, "image/jpeg")
    assert jpeg[:2] == b"\xff\xd8" and digest == hashlib.sha256(jpeg).hexdigest()
    assert len(fake.control.live_posts()) == 2


async def test_a_reel_cover_chosen_from_the_library_reaches_instagram(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings], engine: Any,
    http: httpx.AsyncClient, tmp_path: Path,
) -> None:
    """`coverMediaId` on a reel: the dry run and preview show the signed JPEG cover, a video or
    a deleted file as cover is a finding, and Instagram pulls the cover from postplan."""
    fake = fake_channels
    port, base, settings = _stage(fake, settings_factory, tmp_path)
    ig = fake.control.add_account("instagram")
    cal, (reel_entry,) = await seed_calendar(engine, entries=[
        {"channel": "instagram", "format": "reel", "caption": "reel with cover", "media": []}])
    gateway = FakePlatformGateway(http, fake.url)
    app = build_app(settings)
    app.state.channel_gateway = gateway
    server = LiveServer(app, port=port)
    server.start()
    entry_url = f"/v1/calendars/{cal}/entries/{reel_entry}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            resp = await client.put("/v1/channels/instagram/connection", json={
                "accessToken": ig.token, "accountId": ig.account_id})
            assert resp.status_code == 200
            ids = await _upload(client, (("reel.mp4", clip(540, 960, 3.5)),
                                         ("cover.png", image("PNG", 540, 960))))

            # A video is no cover: the dry run says so and names the field.
            resp = await client.patch(entry_url, json={
                "media": [{"mediaId": ids["reel.mp4"]}],
                "channelOptions": {"instagram": {"coverMediaId": ids["reel.mp4"]}}})
            assert resp.status_code == 200, resp.text
            dry = await client.post(f"/v1/calendars/{cal}/publish", json={"when": "now"})
            (result,) = dry.json()["results"]
            assert result["error"]["code"] == "cover_not_image", result
            assert result["error"]["field"] == "channelOptions.instagram.coverMediaId"

            resp = await client.patch(entry_url, json={
                "channelOptions": {"instagram": {"coverMediaId": ids["cover.png"]}}})
            assert resp.status_code == 200, resp.text
            preview = (await client.get(f"{entry_url}/preview")).json()["channels"][0]
            assert preview["findings"] == [], preview["findings"]
            shown = str(preview["payload"])
            assert f"/v1/media/{ids['cover.png']}/content?" in shown
            dry = await client.post(f"/v1/calendars/{cal}/publish", json={"when": "now"})
            assert [r["error"] for r in dry.json()["results"]] == [None]
            live = await client.post(f"/v1/calendars/{cal}/publish",
                                     json={"dryRun": False, "when": "now"})
            assert live.status_code == 200, live.text
            # While the publish is queued the cover cannot be deleted from under it.
            held = await client.delete(f"/v1/media/{ids['cover.png']}")
            assert held.status_code == 409 and held.json()["code"] == "media_in_use"
            worker = make_worker(engine, settings, gateway, poll_delays=(0.05,),
                                 inline_poll_budget=5.0)
            await settle(engine, worker)
            jpeg = (await client.get(f"/v1/media/{ids['cover.png']}/content",
                                     params={"role": "instagram-jpeg"})).content
    finally:
        server.stop()
    rows = await intent_rows(engine)
    live_rows = [r for r in rows if not r.dry_run]
    assert [r.status for r in live_rows] == ["published"], [(r.status, r.error) for r in rows]
    # The stored request names the cover by id only; the URL was signed at send time.
    assert "cover_url" not in live_rows[0].request["options"]
    assert live_rows[0].request["options"]["cover_media_id"] == ids["cover.png"]
    (container,) = [ct for ct in fake.control.containers.values() if ct.params.get("cover_url")]
    cover = str(container.params["cover_url"])
    assert cover.startswith(f"{base}/v1/media/{ids['cover.png']}/content?") and "sig=" in cover
    status, digest, ctype = fake.control.fetched[cover]
    assert (status, ctype) == (200, "image/jpeg")
    assert digest == hashlib.sha256(jpeg).hexdigest()
    assert len(fake.control.live_posts()) == 1
