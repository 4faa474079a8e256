"""A video postplan stores itself goes to TikTok by FILE_UPLOAD through the request's opener:
the edge reads the bytes it is handed, never a URL, and never without an opener."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from postplan.channels import ChannelConfig, MediaRef, PermanentError
from postplan.channels.base import ByteSource
from postplan.channels.base import PublishRequest as PublishRequestT
from postplan.channels.tiktok import TikTokAdapter
from postplan.channels.tiktok.upload import ChunkRules
from tests.channels.helpers import creds, drive, request
from tests.fakes.channels_server import FakeChannelsConfig, FakeChannelsServer

pytestmark = pytest.mark.live


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data, self.size, self.content_type, self.at = data, len(data), "video/mp4", 0

    async def read(self, n: int) -> bytes:
        out = self.data[self.at:self.at + n]
        self.at += len(out)
        return out


async def test_stored_video_is_uploaded_from_the_opener_not_a_url(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    ctl = fake_channels.control
    ctl.reset(FakeChannelsConfig(min_chunk=1000, max_chunk=4000, max_final_chunk=8000))
    acct = ctl.add_account("tiktok")
    data = bytes(range(256)) * 41  # 10,496 bytes: three chunks
    ref = MediaRef(url="", type="video", media_id="m-1", size=len(data),
                   content_type="video/mp4")
    opened: list[str] = []

    @asynccontextmanager
    async def opener(media: MediaRef) -> AsyncIterator[ByteSource]:
        opened.append(str(media.media_id))
        yield _Bytes(data)

    req = request("tiktok", "video", acct, media_refs=[ref])
    rules = ChunkRules(min_chunk=1000, max_chunk=4000, max_final_chunk=8000,
                       preferred_chunk=4000)
    a = TikTokAdapter(http, ChannelConfig(api_base=fake_channels.url), chunk_rules=rules)
    assert a.validate(req, now=req.scheduled_at, posts_in_last_24h=0) == []
    init = a.build_payload(req)["requests"][1]["body"]["source_info"]
    assert init["source"] == "FILE_UPLOAD" and init["video_size"] == len(data)

    with pytest.raises(PermanentError) as info:  # not bound to storage: nothing is sent
        await a.publish(creds(acct), req, None)
    assert info.value.code == "media_unavailable"
    assert ctl.calls_to("/video/init/") == 0

    result = await drive(a, creds(acct), req.with_opener(opener))
    assert result.state == "published" and opened == ["m-1"]
    (pub,) = ctl.publishes.values()
    assert pub.source == "FILE_UPLOAD" and pub.received == len(data)
    assert pub.digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert ctl.calls_to("/media/") == 0


async def test_creator_longest_video_is_checked_against_the_stored_length(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("tiktok", max_video_post_duration_sec=60)
    a = TikTokAdapter(http, ChannelConfig(api_base=fake_channels.url))

    def stored(seconds: float) -> PublishRequestT:
        ref = MediaRef(url="", type="video", media_id="m", size=10, duration_seconds=seconds)
        return request("tiktok", "video", acct, media_refs=[ref])

    await a.preflight(creds(acct), stored(59.5))
    with pytest.raises(PermanentError) as info:
        await a.preflight(creds(acct), stored(61.0))
    assert info.value.code == "tiktok_video_too_long"
