"""TikTok specifics against the fake: photos, inbox drafts, chunked upload, caps, limits, polls."""

from __future__ import annotations

import httpx
import pytest

from postplan.channels import (
    AuthError,
    ChannelConfig,
    Credentials,
    PermanentError,
    RetryLater,
)
from postplan.channels.tiktok import TikTokAdapter
from postplan.channels.tiktok.upload import ChunkRules
from tests.channels.helpers import adapter, creds, drive, media, request
from tests.fakes.channels_server import FakeChannelsConfig, FakeChannelsServer

pytestmark = pytest.mark.live


async def test_photo_post_uses_content_init(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("tiktok")
    photos = [media(None, f"p{i}.jpg", "image") for i in range(3)]
    req = request("tiktok", "photo", acct, media_refs=photos,
                  options={"photo_cover_index": 2, "title": "Three looks"})
    a = adapter("tiktok", http, fake_channels)
    body = a.build_payload(req)["requests"][1]["body"]
    assert body["media_type"] == "PHOTO" and body["post_mode"] == "DIRECT_POST"
    assert body["source_info"] == {"source": "PULL_FROM_URL",
                                   "photo_images": [p.url for p in photos],
                                   "photo_cover_index": 2}
    assert body["post_info"]["title"] == "Three looks"
    result = await drive(a, creds(acct), req)
    assert result.state == "published" and result.handle
    assert result.handle.startswith("p_pub_url~v2.")
    assert [p.kind for p in fake_channels.control.live_posts()] == ["photo"]


async def test_inbox_draft_ends_sent_to_inbox(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("tiktok", scopes=["video.upload"])
    req = request("tiktok", "video", acct, privacy_level=None,
                  options={"post_mode": "MEDIA_UPLOAD"})
    a = adapter("tiktok", http, fake_channels)
    assert a.validate(req, now=req.scheduled_at, posts_in_last_24h=0) == []
    payload = a.build_payload(req)
    assert [r["url"].rsplit("/v2", 1)[1] for r in payload["requests"]] == [
        "/post/publish/inbox/video/init/", "/post/publish/status/fetch/"]
    assert "post_info" not in payload["requests"][0]["body"]
    result = await drive(a, creds(acct), req)  # creator_info (video.publish) is skipped
    assert result.state == "published"
    assert result.detail["inbox"] is True and result.detail["status"] == "SEND_TO_USER_INBOX"
    assert result.platform_post_id is None
    assert [p.kind for p in fake_channels.control.live_posts()] == ["inbox"]


async def test_photo_draft_via_media_upload(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("tiktok")
    req = request("tiktok", "photo", acct, privacy_level=None,
                  options={"post_mode": "MEDIA_UPLOAD"})
    a = adapter("tiktok", http, fake_channels)
    body = a.build_payload(req)["requests"][0]["body"]
    assert body["post_mode"] == "MEDIA_UPLOAD" and "privacy_level" not in body["post_info"]
    result = await drive(a, creds(acct), req)
    assert result.detail["inbox"] is True


async def test_multi_chunk_upload_in_order_with_a_retried_chunk(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    fake_channels.control.reset(FakeChannelsConfig(min_chunk=1000, max_chunk=4000,
                                                   max_final_chunk=8000))
    acct = fake_channels.control.add_account("tiktok")
    req = request("tiktok", "video", acct, media_refs=[media(fake_channels, "v.mp4",
                                                             size=10_500)],
                  options={"source": "FILE_UPLOAD"})
    rules = ChunkRules(min_chunk=1000, max_chunk=4000, max_final_chunk=8000,
                       preferred_chunk=2000)
    a = TikTokAdapter(http, ChannelConfig(api_base=fake_channels.url), chunk_rules=rules)
    fake_channels.control.fault("/upload/video/", status=503, times=1)
    handles: list[str] = []

    async def keep(h: str) -> None:
        # The publish_id is handed over before any byte goes up.
        assert fake_channels.control.calls_to("/upload/video/") == 0
        handles.append(h)

    await a.preflight(creds(acct), req)
    result = await a.publish(creds(acct), req, None, on_handle=keep)
    assert handles == [result.handle]
    assert result.detail["chunks"] == 5 and result.detail["video_size"] == 10_500
    assert fake_channels.control.calls_to("/upload/video/") == 6  # 5 chunks + 1 retried
    while result.state != "published":
        assert result.handle
        result = await a.poll(creds(acct), req, result.handle)
    assert len(fake_channels.control.live_posts()) == 1


async def test_file_upload_dry_run_shows_chunk_plan_when_size_known(
    http: httpx.AsyncClient,
) -> None:
    a = TikTokAdapter(http, ChannelConfig(api_base="https://open.tiktokapis.com"))
    req = request("tiktok", "video", options={"source": "FILE_UPLOAD", "video_size": 50_000_123})
    steps = a.build_payload(req)["requests"]
    assert steps[1]["body"]["source_info"] == {"source": "FILE_UPLOAD", "video_size": 50_000_123,
                                               "chunk_size": 50_000_123,
                                               "total_chunk_count": 1}
    unknown = a.build_payload(request("tiktok", "video", options={"source": "FILE_UPLOAD"}))
    assert unknown["requests"][1]["body"]["source_info"]["video_size"] == "{video_size}"


async def test_daily_cap_is_an_intentional_200_error_on_creator_info(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    fake_channels.control.config.tiktok_daily_cap = 1
    acct = fake_channels.control.add_account("tiktok")
    a = adapter("tiktok", http, fake_channels)
    await drive(a, creds(acct), request("tiktok", "video", acct, caption="first"))
    with pytest.raises(PermanentError) as info:
        await a.preflight(creds(acct), request("tiktok", "video", acct, caption="second"))
    assert info.value.http_status == 200
    assert info.value.platform_code == "spam_risk_too_many_posts"
    assert "daily" in info.value.message
    # Init refuses too (HTTP 403), so skipping preflight cannot exceed the cap.
    with pytest.raises(PermanentError) as init_info:
        await a.publish(creds(acct), request("tiktok", "video", acct, caption="third"), None)
    assert init_info.value.http_status == 403
    assert len(fake_channels.control.live_posts()) == 1


async def test_banned_creator_is_permanent(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("tiktok", banned=True)
    with pytest.raises(PermanentError) as info:
        await adapter("tiktok", http, fake_channels).preflight(creds(acct),
                                                               request("tiktok", "video", acct))
    assert info.value.platform_code == "spam_risk_user_banned_from_posting"
    assert info.value.http_status == 200


async def test_privacy_option_not_offered_fails_preflight(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("tiktok", private=True)
    a = adapter("tiktok", http, fake_channels)
    req = request("tiktok", "video", acct, privacy_level="PUBLIC_TO_EVERYONE")
    with pytest.raises(PermanentError) as info:
        await a.preflight(creds(acct), req)
    assert info.value.platform_code == "privacy_level_option_mismatch"
    assert "FOLLOWER_OF_CREATOR" in info.value.message
    # Straight to init: TikTok's own 403 maps to the same platform code.
    with pytest.raises(PermanentError) as init_info:
        await a.publish(creds(acct), req, None)
    assert init_info.value.platform_code == "privacy_level_option_mismatch"
    assert init_info.value.http_status == 403


async def test_video_longer_than_creator_limit_fails_preflight(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("tiktok", max_video_post_duration_sec=180)
    req = request("tiktok", "video", acct, options={"duration_sec": 300})
    with pytest.raises(PermanentError, match="180"):
        await adapter("tiktok", http, fake_channels).preflight(creds(acct), req)


async def test_local_ledger_refuses_the_seventh_init_in_a_minute(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("tiktok")
    a = adapter("tiktok", http, fake_channels)
    for i in range(6):
        await a.publish(creds(acct), request("tiktok", "video", acct, caption=f"c{i}"), None)
    with pytest.raises(RetryLater) as info:
        await a.publish(creds(acct), request("tiktok", "video", acct, caption="c6"), None)
    assert info.value.platform_code == "local_rate_limit"
    assert 0 < info.value.retry_after <= 60
    assert fake_channels.control.calls_to("/video/init/") == 6


async def test_platform_429_without_local_ledger(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("tiktok")
    a = adapter("tiktok", http, fake_channels, local_rate_limits=False)
    for i in range(6):
        await a.publish(creds(acct), request("tiktok", "video", acct, caption=f"c{i}"), None)
    with pytest.raises(RetryLater) as info:
        await a.publish(creds(acct), request("tiktok", "video", acct, caption="c6"), None)
    assert info.value.platform_code == "rate_limit_exceeded"
    assert info.value.http_status == 429
    assert 60 <= info.value.retry_after <= 72  # no Retry-After: a jittered minute
    assert len(fake_channels.control.live_posts()) == 6


@pytest.mark.parametrize(("reason", "error"), [
    ("spam_risk_text", PermanentError),
    ("video_pull_failed", PermanentError),
    ("internal", PermanentError),  # this publish is over; a new post is a new decision
])
async def test_failed_status_raises_with_fail_reason(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient, reason: str,
    error: type[Exception],
) -> None:
    acct = fake_channels.control.add_account("tiktok")
    req = request("tiktok", "video", acct, caption=f"oops fail:{reason}")
    with pytest.raises(error) as info:
        await drive(adapter("tiktok", http, fake_channels), creds(acct), req)
    assert info.value.platform_code == reason  # type: ignore[attr-defined]
    assert info.value.handle  # type: ignore[attr-defined]
    assert fake_channels.control.live_posts() == []


async def test_token_expiring_while_polling_never_reinits(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    """The Postiz double post: refresh, then resume polling the same publish_id."""
    ctl = fake_channels.control
    ctl.config.tiktok_processing_polls = 2
    acct = ctl.add_account("tiktok")
    a = adapter("tiktok", http, fake_channels)
    req = request("tiktok", "video", acct)
    result = await a.publish(creds(acct), req, None)
    assert result.handle
    ctl.expire(acct.token)
    with pytest.raises(AuthError):
        await a.poll(creds(acct), req, result.handle)
    fresh = ctl.add_account("tiktok", acct.account_id)  # a refreshed token, same creator
    again = await a.publish(creds(fresh), req, result.handle)  # a handle: poll, never init
    while again.state != "published":
        again = await a.poll(creds(fresh), req, result.handle)
    assert ctl.calls_to("/video/init/") == 1
    assert len(ctl.live_posts()) == 1


async def test_reconcile_unknown_publish_id_is_not_published(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("tiktok")
    a = adapter("tiktok", http, fake_channels)
    result = await a.reconcile(creds(acct), request("tiktok", "video", acct), "v_pub_url~v2.999")
    assert result is not None and result.state == "not_published" and result.handle is None


async def test_reconcile_without_handle_cannot_tell(http: httpx.AsyncClient) -> None:
    a = TikTokAdapter(http, ChannelConfig(api_base="http://127.0.0.1:9"))
    none = Credentials(access_token="act.unused-token", account_id="acct")
    assert await a.reconcile(none, request("tiktok", "video"), None) is None


async def test_media_host_error_on_file_upload_is_permanent(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("tiktok")
    req = request("tiktok", "video", acct, media_refs=[media(fake_channels, "gone.mp4")],
                  options={"source": "FILE_UPLOAD"})
    fake_channels.control.fault("/media/gone.mp4", status=404, body={"detail": "gone"})
    with pytest.raises(PermanentError) as info:
        await adapter("tiktok", http, fake_channels).publish(creds(acct), req, None)
    assert info.value.code == "tiktok_media_unreachable"
    assert fake_channels.control.calls_to("/video/init/") == 0


async def test_unverified_pull_url_is_permanent(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    fake_channels.control.config.verified_prefixes = ["https://media.brand.example/"]
    acct = fake_channels.control.add_account("tiktok")
    with pytest.raises(PermanentError) as info:
        await adapter("tiktok", http, fake_channels).publish(
            creds(acct), request("tiktok", "video", acct), None)
    assert info.value.platform_code == "url_ownership_unverified"
    assert "verified" in info.value.message


async def test_broken_partial_upload_starts_over_without_a_second_post(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    ctl = fake_channels.control
    ctl.reset(FakeChannelsConfig(min_chunk=1000, max_chunk=4000, max_final_chunk=8000))
    acct = ctl.add_account("tiktok")
    req = request("tiktok", "video", acct, media_refs=[media(fake_channels, "v.mp4",
                                                             size=10_500)],
                  options={"source": "FILE_UPLOAD"})
    rules = ChunkRules(min_chunk=1000, max_chunk=4000, max_final_chunk=8000,
                       preferred_chunk=2000)
    a = TikTokAdapter(http, ChannelConfig(api_base=fake_channels.url, chunk_retries=1),
                      chunk_rules=rules)
    persisted: list[str] = []

    async def keep(h: str) -> None:
        persisted.append(h)

    ctl.fault("/upload/video/", status=403, after=2, times=1)  # the upload URL "expires"
    with pytest.raises(RetryLater) as info:
        await a.publish(creds(acct), req, None, on_handle=keep)
    assert info.value.code == "tiktok_upload_failed" and info.value.handle is None
    assert ctl.live_posts() == []
    # The domain retries with the handle it persisted: the dead publish is recognised.
    dead = await a.reconcile(creds(acct), req, persisted[0])
    assert dead is not None and dead.state == "not_published"
    result = await a.publish(creds(acct), req, persisted[0], on_handle=keep)
    assert result.handle != persisted[0]
    while result.state != "published":
        assert result.handle
        result = await a.poll(creds(acct), req, result.handle)
    assert len(ctl.live_posts()) == 1 and ctl.calls_to("/video/init/") == 2


async def test_unaudited_app_can_only_post_privately(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    fake_channels.control.config.tiktok_audited = False
    public = fake_channels.control.add_account("tiktok")
    a = adapter("tiktok", http, fake_channels)
    with pytest.raises(PermanentError) as info:
        await a.publish(creds(public), request("tiktok", "video", public), None)
    assert info.value.platform_code == "unaudited_client_can_only_post_to_private_accounts"
    assert "audited" in info.value.message
    private = fake_channels.control.add_account("tiktok", private=True)
    ok = request("tiktok", "video", private, privacy_level="SELF_ONLY")
    result = await drive(a, creds(private), ok)
    assert result.state == "published" and result.platform_post_id is None  # SELF_ONLY: no id
