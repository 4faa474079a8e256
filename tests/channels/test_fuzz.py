"""Whatever a user typed, build_payload and validate never crash and stay JSON-ready."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postplan.channels import MediaRef, PublishRequest, get_adapter
from postplan.core.vocab import FORMATS_BY_CHANNEL, Channel

OPTION_KEYS = ["post_mode", "source", "disable_comment", "photo_cover_index", "title",
               "video_cover_timestamp_ms", "share_to_feed", "alt_text", "cover_url",
               "thumb_offset", "is_aigc", "is_ai_generated", "video_size", "duration_sec"]
values = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**10), st.text(max_size=20),
                   st.sampled_from(["DIRECT_POST", "MEDIA_UPLOAD", "FILE_UPLOAD", "x"]))
media = st.lists(st.builds(MediaRef, url=st.text(max_size=40),
                           type=st.sampled_from(["image", "video"])), max_size=12)


@st.composite
def requests(draw: st.DrawFn) -> PublishRequest:
    channel = draw(st.sampled_from(list(Channel)))
    return PublishRequest(
        intent_id="i", channel=channel,
        format=draw(st.sampled_from(FORMATS_BY_CHANNEL[channel])),
        caption=draw(st.text(max_size=300)),
        hashtags=draw(st.lists(st.text(max_size=10), max_size=5)),
        media=draw(media),
        scheduled_at=draw(st.datetimes(timezones=st.just(UTC))),
        account_id="a",
        privacy_level=draw(st.one_of(st.none(), st.sampled_from(
            ["PUBLIC_TO_EVERYONE", "SELF_ONLY", "bogus"]))),
        options=draw(st.dictionaries(st.sampled_from(OPTION_KEYS), values, max_size=6)),
    )


ADAPTERS: dict[Channel, Any] = {}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_never_crashes(req: PublishRequest) -> None:
    if not ADAPTERS:
        http = httpx.AsyncClient()  # never used: these calls are offline
        for ch in Channel:
            ADAPTERS[ch] = get_adapter(ch, http=http, api_base="https://api.example",
                                       api_version="v25.0")
    a = ADAPTERS[req.channel]
    first = a.build_payload(req)
    assert first == a.build_payload(req)
    json.dumps(first)
    findings = a.validate(req, now=datetime(2030, 1, 1, tzinfo=UTC), posts_in_last_24h=0)
    assert all(f.code and f.message for f in findings)
