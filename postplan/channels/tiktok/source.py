"""A FILE_UPLOAD source streamed from its URL: the size first (for init's chunk plan), then
exact-size chunks, so a 4 GB video never sits in memory - only the chunk being sent does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from postplan.channels.backoff import backoff_delay
from postplan.channels.base import PermanentError, RetryLater

__all__ = ["MediaSource", "open_source"]


class MediaSource:
    """Reads exactly `n` bytes at a time from a byte stream of known total `size`."""

    def __init__(self, chunks: AsyncIterator[bytes], size: int, content_type: str) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self.size = size
        self.content_type = content_type

    async def read(self, n: int) -> bytes:
        try:
            while len(self._buffer) < n:
                piece = await anext(self._chunks, None)
                if piece is None:
                    raise RetryLater("tiktok_media_truncated",
                                     "The media host sent fewer bytes than it announced.",
                                     retry_after=backoff_delay(1))
                self._buffer.extend(piece)
        except httpx.TransportError as exc:
            raise RetryLater("tiktok_media_unavailable",
                             f"Reading the media failed ({type(exc).__name__}); retrying.",
                             retry_after=backoff_delay(1)) from None
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


@asynccontextmanager
async def open_source(
    http: httpx.AsyncClient, url: str, limits: httpx.Timeout
) -> AsyncIterator[MediaSource]:
    """Open the media URL (read-only, safe to retry) and learn its size."""
    try:
        response = await http.send(http.build_request("GET", url, timeout=limits),
                                   stream=True, follow_redirects=True)
    except httpx.TransportError as exc:
        raise RetryLater("tiktok_media_unavailable",
                         f"Could not download the media ({type(exc).__name__}); retrying.",
                         retry_after=backoff_delay(1)) from None
    try:
        if response.status_code >= 500:
            raise RetryLater("tiktok_media_unavailable", "The media host failed; retrying.",
                             retry_after=30.0, http_status=response.status_code)
        if response.status_code >= 400:
            raise PermanentError("tiktok_media_unreachable",
                                 f"The media URL answered HTTP {response.status_code}.",
                                 http_status=response.status_code)
        ctype = response.headers.get("content-type", "video/mp4").split(";")[0].strip()
        length = response.headers.get("content-length", "")
        if length.isdigit() and "content-encoding" not in response.headers:
            yield MediaSource(response.aiter_raw(), int(length), ctype)
        else:
            # No trustworthy size up front: TikTok's init needs it, so buffer the file.
            try:
                data = await response.aread()
            except httpx.TransportError as exc:
                raise RetryLater("tiktok_media_unavailable",
                                 f"Reading the media failed ({type(exc).__name__}).",
                                 retry_after=backoff_delay(1)) from None
            yield MediaSource(_once(data), len(data), ctype)
    finally:
        await response.aclose()
