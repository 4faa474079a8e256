"""Streaming the FILE_UPLOAD source: exact chunks, unknown sizes, truncation, host errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from postplan.channels import PermanentError, RetryLater
from postplan.channels.tiktok.source import open_source

DATA = bytes(range(256)) * 40  # 10,240 bytes
LIMITS = httpx.Timeout(5.0)


async def pieces(data: bytes, size: int = 333) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def client(handler: httpx.MockTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=handler)


async def test_known_length_is_streamed_in_exact_chunks() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(
        200, headers={"Content-Length": str(len(DATA)), "Content-Type": "video/webm"},
        content=pieces(DATA)))
    async with client(transport) as http, open_source(http, "https://h/v.webm", LIMITS) as src:
        assert (src.size, src.content_type) == (len(DATA), "video/webm")
        got = [await src.read(n) for n in (4000, 4000, 2240)]
    assert b"".join(got) == DATA and [len(g) for g in got] == [4000, 4000, 2240]


async def test_unknown_length_is_buffered() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=pieces(DATA)))
    async with client(transport) as http, open_source(http, "https://h/v.mp4", LIMITS) as src:
        assert src.size == len(DATA) and src.content_type == "video/mp4"
        assert await src.read(len(DATA)) == DATA


async def test_truncated_stream_is_retry_later() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(
        200, headers={"Content-Length": str(len(DATA) + 10)}, content=pieces(DATA)))
    async with client(transport) as http, open_source(http, "https://h/v.mp4", LIMITS) as src:
        with pytest.raises(RetryLater) as info:
            await src.read(src.size)
    assert info.value.code == "tiktok_media_truncated"


@pytest.mark.parametrize(("status", "cls"), [(404, PermanentError), (503, RetryLater)])
async def test_host_errors(status: int, cls: type[Exception]) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(status))
    async with client(transport) as http:
        with pytest.raises(cls):
            async with open_source(http, "https://h/v.mp4", LIMITS):
                pass


async def test_unreachable_host_is_retry_later() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with client(httpx.MockTransport(refuse)) as http:
        with pytest.raises(RetryLater):
            async with open_source(http, "https://h/v.mp4", LIMITS):
                pass
