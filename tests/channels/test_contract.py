"""The one contract every channel adapter passes, against the fake platform on real uvicorn.

Each case is an adapter plus a format; every case gets the same failure modes: expired token,
rate limit, server errors before and during the irreversible call, invalid parameters, a dropped
connection after the platform applied the side effect, and a timeout. The fake counts what was
actually posted, so "no double post" is asserted on the platform's side.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from postplan.channels import (
    AuthError,
    ChannelError,
    Finding,
    MediaRef,
    OutcomeUnknown,
    PermanentError,
    PublishRequest,
    RetryLater,
)
from tests.channels.helpers import NOW, adapter, creds, drive, media, past, request
from tests.fakes.channels_server import FakeChannelsServer

pytestmark = pytest.mark.live


@dataclass(frozen=True)
class Case:
    id: str
    channel: str
    fmt: str
    preflight_path: str
    init_path: str  # the first call that creates something on the platform
    irreversible_path: str  # the call after which the post may be live
    reconcile_after_drop: str  # "none": the platform cannot tell; "published"
    options: dict[str, Any] = field(default_factory=dict)
    media: Callable[[FakeChannelsServer], list[MediaRef]] | None = None


CASES = [
    Case("tiktok-video-url", "tiktok", "video", "/creator_info/", "/video/init/", "/video/init/",
         "none"),
    Case("tiktok-video-file", "tiktok", "video", "/creator_info/", "/video/init/",
         "/upload/video/", "published", {"source": "FILE_UPLOAD"},
         lambda f: [media(f, "clip.mp4", size=3000)]),
    Case("tiktok-photo", "tiktok", "photo", "/creator_info/", "/content/init/", "/content/init/",
         "none", {}, lambda f: [media(None, "a.jpg", "image"), media(None, "b.jpg", "image")]),
    Case("instagram-image", "instagram", "image", "/content_publishing_limit", "/media$",
         "/media_publish", "published"),
    Case("instagram-reel", "instagram", "reel", "/content_publishing_limit", "/media$",
         "/media_publish", "published", {"share_to_feed": True}),
    Case("instagram-carousel", "instagram", "carousel", "/content_publishing_limit", "/media$",
         "/media_publish", "published"),
    Case("instagram-story", "instagram", "story", "/content_publishing_limit", "/media$",
         "/media_publish", "published"),
]


@pytest.fixture(params=CASES, ids=[c.id for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@dataclass
class Setup:
    fake: FakeChannelsServer
    adapter: Any
    req: PublishRequest
    token: str
    creds: Any


@pytest.fixture
def setup(case: Case, fake_channels: FakeChannelsServer, http: httpx.AsyncClient) -> Setup:
    account = fake_channels.control.add_account(case.channel)
    refs = case.media(fake_channels) if case.media else None
    req = request(case.channel, case.fmt, account, caption=f"Launch day {case.id} #postplan",
                  media_refs=refs, options=case.options, intent_id=f"nonce-{case.id}")
    return Setup(fake_channels, adapter(case.channel, http, fake_channels, timeout=1.0), req,
                 account.token, creds(account))


def assert_no_token(exc: BaseException, token: str) -> None:
    texts = [str(exc), repr(exc), *map(str, exc.args)]
    if isinstance(exc, ChannelError):
        texts += [exc.message, exc.code, str(exc.platform_code), json.dumps(exc.as_error())]
    for text in texts:
        assert token not in text
        assert token[4:20] not in text


async def prepare_and_publish(setup: Setup) -> Any:
    handle = await setup.adapter.prepare(setup.creds, setup.req)
    return await setup.adapter.publish(setup.creds, setup.req, handle)


# -- offline ---------------------------------------------------------------------------------------


def test_build_payload_is_deterministic_and_json(setup: Setup) -> None:
    first = setup.adapter.build_payload(setup.req)
    second = setup.adapter.build_payload(setup.req.model_copy())
    assert first == second
    text = json.dumps(first, sort_keys=True)
    assert setup.token not in text
    assert first["channel"] == setup.req.channel.value
    assert first["requests"], "the payload lists the requests the adapter would send"


def test_clean_request_has_no_findings(setup: Setup) -> None:
    assert setup.adapter.validate(setup.req, now=NOW, posts_in_last_24h=0) == []


def _mutations(case: Case, req: PublishRequest) -> list[tuple[str, dict[str, Any]]]:
    other_format = {"tiktok": "reel", "instagram": "video"}[case.channel]
    wrong_type = "image" if case.fmt in ("video", "reel") else "video"
    out: list[tuple[str, dict[str, Any]]] = [
        ("scheduled_in_past", {"scheduled_at": past()}),
        ("media_missing", {"media": []}),
        ("media_url_invalid", {"media": [MediaRef(url="http://cdn.example.com/x",
                                                  type=req.media[0].type)] * len(req.media)}),
        ("format_not_supported", {"format": other_format}),
    ]
    if case.fmt != "story":
        out.append(("caption_too_long", {"caption": "x" * 5000}))
    if case.fmt in ("video", "photo", "image", "reel"):
        out.append(("media_type_invalid", {"media": [MediaRef(url=req.media[0].url,
                                                              type=wrong_type)]}))
    many = 36 if case.fmt == "photo" else 11 if case.fmt == "carousel" else 2
    out.append(("media_count_invalid", {"media": [req.media[0]] * many}))
    if case.channel == "tiktok":
        out.append(("tiktok_privacy_required", {"privacy_level": None}))
        out.append(("privacy_level_invalid", {"privacy_level": "EVERYONE"}))
    elif case.fmt != "story":
        out.append(("too_many_hashtags", {"caption": " ".join(f"#t{i}" for i in range(31))}))
        out.append(("too_many_mentions", {"caption": " ".join(f"@u{i}" for i in range(21))}))
    return out


def test_validate_catches_each_finding(case: Case, setup: Setup) -> None:
    for code, update in _mutations(case, setup.req):
        bad = PublishRequest.model_validate({**setup.req.model_dump(), **update})
        findings = setup.adapter.validate(bad, now=NOW, posts_in_last_24h=0)
        assert code in {f.code for f in findings}, (code, findings)
        assert all(isinstance(f, Finding) and f.message for f in findings)
    quota = setup.adapter.validate(setup.req, now=NOW, posts_in_last_24h=1000)
    assert [f.code for f in quota] == ["daily_quota_exceeded"]


def test_validate_opens_no_connection(setup: Setup) -> None:
    before = len(setup.fake.control.calls)
    setup.adapter.build_payload(setup.req)
    setup.adapter.validate(setup.req, now=NOW, posts_in_last_24h=0)
    assert len(setup.fake.control.calls) == before


# -- the happy path ---------------------------------------------------------------------------


async def test_publish_end_to_end(case: Case, setup: Setup) -> None:
    result = await drive(setup.adapter, setup.creds, setup.req)
    assert result.state == "published"
    assert result.handle
    assert result.platform_post_id
    ctl = setup.fake.control
    assert len(ctl.live_posts()) == 1
    if case.fmt != "story":  # stories carry no caption
        assert ctl.count(f"Launch day {case.id}") == 1
    assert ctl.duplicates() == {}


# -- failures before the irreversible call ------------------------------------------------------


async def test_expired_token_is_auth_error(setup: Setup) -> None:
    setup.fake.control.expire(setup.token)
    with pytest.raises(AuthError) as info:
        await drive(setup.adapter, setup.creds, setup.req)
    assert info.value.code.endswith("auth_invalid")
    assert_no_token(info.value, setup.token)
    assert setup.fake.control.live_posts() == []


async def test_401_is_auth_error(case: Case, setup: Setup) -> None:
    setup.fake.control.fault(case.preflight_path, "auth")
    with pytest.raises(AuthError) as info:
        await setup.adapter.preflight(setup.creds, setup.req)
    assert info.value.platform_code
    assert_no_token(info.value, setup.token)


async def test_rate_limit_is_retry_later_with_delay(case: Case, setup: Setup) -> None:
    setup.fake.control.fault(case.preflight_path, "rate_limit", headers={"Retry-After": "7"})
    with pytest.raises(RetryLater) as info:
        await setup.adapter.preflight(setup.creds, setup.req)
    exc = info.value
    assert exc.from_platform
    # TikTok: Retry-After; Instagram: X-Business-Use-Case-Usage (1 minute) wins.
    assert exc.retry_after == (7.0 if case.channel == "tiktok" else 60.0)
    assert_no_token(exc, setup.token)


async def test_server_error_before_irreversible_call_is_retry_later(
    case: Case, setup: Setup
) -> None:
    setup.fake.control.fault(case.preflight_path, status=503)
    with pytest.raises(RetryLater) as info:
        await setup.adapter.preflight(setup.creds, setup.req)
    assert info.value.retry_after > 0
    assert_no_token(info.value, setup.token)
    if case.init_path != case.irreversible_path:
        # A reversible creation step (Instagram containers, TikTok FILE_UPLOAD init) failing
        # with 5xx is also safe to retry.
        setup.fake.control.fault(case.init_path, status=500, method="POST")
        with pytest.raises(RetryLater):
            await prepare_and_publish(setup)
    assert setup.fake.control.live_posts() == []


async def test_invalid_params_is_permanent_with_platform_code(case: Case, setup: Setup) -> None:
    setup.fake.control.fault(case.init_path, "invalid", method="POST")
    with pytest.raises(PermanentError) as info:
        await prepare_and_publish(setup)
    exc = info.value
    assert exc.platform_code in ("invalid_param", "100/2207023")
    assert exc.message and exc.message != exc.platform_code
    assert exc.as_error()["platformCode"] == exc.platform_code
    assert_no_token(exc, setup.token)
    assert setup.fake.control.live_posts() == []


# -- the irreversible call --------------------------------------------------------------------


async def test_dropped_connection_after_side_effect_is_outcome_unknown_then_reconciled(
    case: Case, setup: Setup
) -> None:
    ctl = setup.fake.control
    handle = await setup.adapter.prepare(setup.creds, setup.req)
    ctl.fault(case.irreversible_path, "drop_after")
    with pytest.raises(OutcomeUnknown) as info:
        await setup.adapter.publish(setup.creds, setup.req, handle)
    exc = info.value
    assert_no_token(exc, setup.token)
    assert len(ctl.live_posts()) == 1, "the platform applied the side effect"
    result = await setup.adapter.reconcile(setup.creds, setup.req, exc.handle or handle)
    if case.reconcile_after_drop == "none":
        assert exc.handle is None
        assert result is None, "without a publish_id TikTok cannot tell: a human must look"
    else:
        assert result is not None
        for _ in range(10):
            if result.state == "published":
                break
            assert result.state == "processing" and result.handle
            result = await setup.adapter.poll(setup.creds, setup.req, result.handle)
        assert result.state == "published"
    assert len(ctl.live_posts()) == 1
    assert ctl.duplicates() == {}


async def test_dropped_connection_before_side_effect_reconciles_to_safe_retry(
    case: Case, setup: Setup
) -> None:
    ctl = setup.fake.control
    handle = await setup.adapter.prepare(setup.creds, setup.req)
    ctl.fault(case.irreversible_path, "drop")
    with pytest.raises(OutcomeUnknown) as info:
        await setup.adapter.publish(setup.creds, setup.req, handle)
    assert ctl.live_posts() == []
    result = await setup.adapter.reconcile(setup.creds, setup.req, info.value.handle or handle)
    if case.reconcile_after_drop == "none":
        assert result is None
        return
    assert result is not None and result.state == "not_published"
    again = await setup.adapter.publish(setup.creds, setup.req, result.handle or
                                        await setup.adapter.prepare(setup.creds, setup.req))
    while again.state != "published":
        assert again.handle
        again = await setup.adapter.poll(setup.creds, setup.req, again.handle)
    assert len(ctl.live_posts()) == 1


async def test_server_error_on_irreversible_call_is_outcome_unknown(
    case: Case, setup: Setup
) -> None:
    handle = await setup.adapter.prepare(setup.creds, setup.req)
    setup.fake.control.fault(case.irreversible_path, status=500, times=None)
    with pytest.raises(OutcomeUnknown) as info:
        await setup.adapter.publish(setup.creds, setup.req, handle)
    assert_no_token(info.value, setup.token)


async def test_timeout_on_irreversible_call_is_outcome_unknown(
    case: Case, setup: Setup, http: httpx.AsyncClient
) -> None:
    setup.fake.control.config.hang_seconds = 3.0
    quick = adapter(case.channel, http, setup.fake, timeout=0.3, upload_timeout=0.3,
                    chunk_retries=0)
    handle = await quick.prepare(setup.creds, setup.req)
    setup.fake.control.fault(case.irreversible_path, "hang")
    with pytest.raises(OutcomeUnknown) as info:
        await quick.publish(setup.creds, setup.req, handle)
    assert "reconcile" in info.value.message
    assert_no_token(info.value, setup.token)


async def test_credentials_never_show_the_token(setup: Setup) -> None:
    assert setup.token not in repr(setup.creds)
    assert setup.token not in str(setup.creds)


def test_every_registered_channel_and_format_has_a_case() -> None:
    from postplan.core.vocab import FORMATS_BY_CHANNEL, Channel

    covered = {(c.channel, c.fmt) for c in CASES}
    for channel in Channel:
        for fmt in FORMATS_BY_CHANNEL[channel]:
            assert (channel.value, fmt.value) in covered, (channel, fmt)
