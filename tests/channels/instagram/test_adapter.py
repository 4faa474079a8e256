"""Instagram specifics against the fake: each container kind, status polling, limits, errors."""

from __future__ import annotations

import httpx
import pytest

from postplan.channels import PermanentError, RetryLater
from tests.channels.helpers import adapter, creds, drive, media, request
from tests.fakes.channels_server import FakeChannelsServer

pytestmark = pytest.mark.live


def containers(fake: FakeChannelsServer) -> list[dict[str, object]]:
    return [dict(ct.params) | {"_kind": ct.media_type}
            for ct in fake.control.containers.values()]


async def test_image_container_then_publish(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("instagram")
    req = request("instagram", "image", acct, options={"alt_text": "A red mug"})
    result = await drive(adapter("instagram", http, fake_channels), creds(acct), req)
    assert result.platform_post_id and result.detail["media_id"] == result.platform_post_id
    [ct] = containers(fake_channels)
    assert ct["image_url"] == req.media[0].url and ct["alt_text"] == "A red mug"
    assert "media_type" not in ct  # a single feed image leaves media_type out


async def test_reel_parameters(fake_channels: FakeChannelsServer, http: httpx.AsyncClient) -> None:
    acct = fake_channels.control.add_account("instagram")
    req = request("instagram", "reel", acct,
                  options={"share_to_feed": False, "thumb_offset": 1500,
                           "cover_url": "https://cdn.example.com/cover.jpg"})
    await drive(adapter("instagram", http, fake_channels), creds(acct), req)
    [ct] = containers(fake_channels)
    assert ct["media_type"] == "REELS" and ct["share_to_feed"] == "false"
    assert ct["thumb_offset"] == "1500" and str(ct["cover_url"]).endswith("cover.jpg")
    assert fake_channels.control.live_posts()[0].kind == "reel"


async def test_story_has_no_caption(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("instagram")
    req = request("instagram", "story", acct, media_refs=[media(None, "s.mp4", "video")])
    await drive(adapter("instagram", http, fake_channels), creds(acct), req)
    [ct] = containers(fake_channels)
    assert ct["media_type"] == "STORIES" and ct["video_url"] == req.media[0].url
    assert ct["caption"] == ""


async def test_carousel_children_then_parent(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("instagram")
    refs = [media(None, "1.jpg", "image"), media(None, "2.mp4", "video"),
            media(None, "3.jpg", "image")]
    req = request("instagram", "carousel", acct, media_refs=refs, caption="Three in one #a")
    a = adapter("instagram", http, fake_channels)
    steps = a.build_payload(req)["requests"]
    assert [s["body"].get("media_type") for s in steps if s["method"] == "POST"][:4] == [
        None, "VIDEO", None, "CAROUSEL"]
    assert steps[4]["body"]["children"] == "{child_0},{child_1},{child_2}"
    result = await drive(a, creds(acct), req)
    ctl = fake_channels.control
    parent = ctl.containers[result.handle or ""]
    kids = [ctl.containers[i] for i in parent.children]
    # Created concurrently, but the parent lists them in the entry's order.
    assert [k.params.get("image_url") or k.params.get("video_url") for k in kids] == [
        m.url for m in refs]
    assert [k.media_type for k in kids] == ["image", "video", "image"]
    assert all(k.params["_item"] and not k.params["caption"] for k in kids)
    assert parent.media_type == "carousel" and len(ctl.containers) == 4
    assert [p.kind for p in fake_channels.control.live_posts()] == ["carousel"]


async def test_container_error_status_is_permanent_with_subcode(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("instagram")
    req = request("instagram", "reel", acct,
                  media_refs=[media(None, "bad-codec.mp4", "video")])
    with pytest.raises(PermanentError) as info:
        await adapter("instagram", http, fake_channels).prepare(creds(acct), req)
    assert info.value.code == "instagram_container_failed"
    assert info.value.platform_code == "2207026"
    assert "MOV or MP4" in info.value.message and info.value.handle


async def test_unfetchable_media_fails_synchronously(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("instagram")
    req = request("instagram", "image", acct, media_refs=[media(None, "fail-9004.jpg", "image")])
    with pytest.raises(PermanentError) as info:
        await adapter("instagram", http, fake_channels).prepare(creds(acct), req)
    assert info.value.platform_code == "9004/2207052"
    assert "fetch" in info.value.message


async def test_carousel_of_one_is_rejected_by_the_platform(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("instagram")
    req = request("instagram", "carousel", acct, media_refs=[media(None, "1.jpg", "image")])
    with pytest.raises(PermanentError) as info:
        await adapter("instagram", http, fake_channels).prepare(creds(acct), req)
    assert info.value.platform_code == "100/2207028"
    assert "2 to 10" in info.value.message


async def test_publishing_limit(fake_channels: FakeChannelsServer, http: httpx.AsyncClient
                                ) -> None:
    fake_channels.control.config.ig_quota_total = 1
    acct = fake_channels.control.add_account("instagram")
    a = adapter("instagram", http, fake_channels)
    await drive(a, creds(acct), request("instagram", "image", acct, caption="one"))
    second = request("instagram", "image", acct, caption="two")
    with pytest.raises(PermanentError) as pre:
        await a.preflight(creds(acct), second)
    assert pre.value.code == "instagram_daily_quota" and "1 of 1" in pre.value.message
    handle = await a.prepare(creds(acct), second)  # containers do not count…
    with pytest.raises(PermanentError) as pub:  # …media_publish enforces the quota
        await a.publish(creds(acct), second, handle)
    assert pub.value.platform_code == "9/2207042"
    assert len(fake_channels.control.live_posts()) == 1


async def test_slow_container_is_retry_later_with_handle(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    fake_channels.control.config.ig_processing_polls = 50
    acct = fake_channels.control.add_account("instagram")
    a = adapter("instagram", http, fake_channels, container_poll_timeout=0.1)
    req = request("instagram", "reel", acct)
    with pytest.raises(RetryLater) as info:
        await a.prepare(creds(acct), req)
    assert info.value.code == "instagram_container_not_ready" and info.value.handle
    # Publishing a container that is not ready is refused before media_publish is called.
    with pytest.raises(RetryLater) as not_ready:
        await a.publish(creds(acct), req, info.value.handle)
    assert not_ready.value.code == "instagram_media_not_ready"
    assert fake_channels.control.calls_to("/media_publish") == 0
    reconciled = await a.reconcile(creds(acct), req, info.value.handle)
    assert reconciled is not None and reconciled.state == "not_published"
    assert reconciled.handle == info.value.handle


async def test_publishing_an_already_published_container_is_not_a_second_post(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("instagram")
    a = adapter("instagram", http, fake_channels)
    req = request("instagram", "image", acct)
    first = await drive(a, creds(acct), req)
    again = await a.publish(creds(acct), req, first.handle)
    assert again.state == "published" and again.detail["already_published"] is True
    assert fake_channels.control.calls_to("/media_publish") == 1
    assert len(fake_channels.control.live_posts()) == 1


async def test_reconcile_expired_container_starts_over(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("instagram", ttl=10 * 86400)
    a = adapter("instagram", http, fake_channels)
    req = request("instagram", "image", acct)
    handle = await a.prepare(creds(acct), req)
    fake_channels.control.advance(86400 + 60)
    result = await a.reconcile(creds(acct), req, handle)
    assert result is not None and result.state == "not_published" and result.handle is None
    assert (await a.reconcile(creds(acct), req, None)).state == "not_published"  # type: ignore[union-attr]
    assert (await a.reconcile(creds(acct), req, "123")).state == "not_published"  # type: ignore[union-attr]


async def test_media_publish_not_ready_is_retry_later(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    """If the container regresses between the check and the publish, 9007 is safe to retry."""
    acct = fake_channels.control.add_account("instagram")
    a = adapter("instagram", http, fake_channels)
    req = request("instagram", "image", acct)
    handle = await a.prepare(creds(acct), req)
    fake_channels.control.fault("/media_publish", body={"error": {
        "message": "Media ID is not available", "type": "OAuthException", "code": 9007,
        "error_subcode": 2207027, "is_transient": False, "error_user_title": "Cannot Publish",
        "error_user_msg": "The media is not ready for publishing, please wait for a moment"}},
        status=400)
    with pytest.raises(RetryLater) as info:
        await a.publish(creds(acct), req, handle)
    assert info.value.platform_code == "9007/2207027"
    assert (await a.publish(creds(acct), req, handle)).state == "published"
    assert len(fake_channels.control.live_posts()) == 1
