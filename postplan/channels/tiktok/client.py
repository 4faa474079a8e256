"""Thin typed calls to TikTok's Content Posting API v2 (`{TIKTOK_API_BASE}/v2/post/publish/...`).

Each method sends one request with an explicit timeout and returns `data`, or raises the typed
error the envelope means. Per-token limits (creator_info 20/min, inits 6/min, status 30/min) are
kept locally too, so a busy worker refuses before TikTok has to.
"""

from __future__ import annotations

from typing import Any

import httpx

from postplan.channels.base import OutcomeUnknown, PermanentError, RetryLater
from postplan.channels.config import ChannelConfig
from postplan.channels.ratelimit import RateLedger, token_key
from postplan.channels.tiktok.errors import error_for, parse_envelope
from postplan.channels.transport import send, timeout_for

__all__ = ["LIMITS", "TikTokClient"]

#: Documented per-token limits, requests per minute.
LIMITS: dict[str, int] = {"creator_info": 20, "init": 6, "status": 30, "cancel": 30}

PATHS: dict[str, str] = {
    "creator_info": "/v2/post/publish/creator_info/query/",
    "video_init": "/v2/post/publish/video/init/",
    "inbox_init": "/v2/post/publish/inbox/video/init/",
    "content_init": "/v2/post/publish/content/init/",
    "status": "/v2/post/publish/status/fetch/",
    "cancel": "/v2/post/publish/cancel/",
}


class TikTokClient:
    """One shared instance per process; holds no per-user state beyond the rate ledger."""

    def __init__(
        self, http: httpx.AsyncClient, config: ChannelConfig, ledger: RateLedger | None = None
    ) -> None:
        self.http = http
        self.config = config
        self.ledger = ledger or RateLedger()
        self._timeout = timeout_for(config.timeout, config.connect_timeout)
        self.upload_timeout = timeout_for(config.upload_timeout, config.connect_timeout)

    def url(self, name: str) -> str:
        return self.config.api_base + PATHS[name]

    def _take(self, token: str, bucket: str) -> None:
        if not self.config.local_rate_limits:
            return
        delay = self.ledger.acquire(token_key(token), bucket, LIMITS[bucket])
        if delay:
            raise RetryLater(
                "tiktok_rate_limited",
                f"TikTok allows {LIMITS[bucket]} {bucket} calls a minute per account; waiting.",
                retry_after=delay, from_platform=False, platform_code="local_rate_limit",
            )

    async def _post(
        self,
        token: str,
        name: str,
        body: dict[str, Any] | None,
        *,
        bucket: str,
        irreversible: bool = False,
        handle: str | None = None,
    ) -> dict[str, Any]:
        self._take(token, bucket)
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json; charset=UTF-8",
        }
        response = await send(
            self.http, "POST", self.url(name), prefix="tiktok", step=name,
            irreversible=irreversible, limits=self._timeout, headers=headers,
            json=body if body is not None else None,
        )
        error = error_for(response, irreversible=irreversible, handle=handle)
        if error is not None:
            raise error
        return parse_envelope(response)[0]

    async def creator_info(self, token: str) -> dict[str, Any]:
        """`creator_info/query`: privacy options, interaction switches, max duration."""
        return await self._post(token, "creator_info", None, bucket="creator_info")

    async def init(
        self, token: str, name: str, body: dict[str, Any], *, irreversible: bool
    ) -> dict[str, Any]:
        """`video/init`, `inbox/video/init` or `content/init`; returns publish_id (+upload_url)."""
        data = await self._post(token, name, body, bucket="init", irreversible=irreversible)
        if not data.get("publish_id"):
            cls = OutcomeUnknown if irreversible else PermanentError
            raise cls("tiktok_bad_response", "TikTok's init answered ok without a publish_id.")
        return data

    async def status(self, token: str, publish_id: str) -> dict[str, Any]:
        """`status/fetch` for one publish_id."""
        return await self._post(
            token, "status", {"publish_id": publish_id}, bucket="status", handle=publish_id
        )

    async def cancel(self, token: str, publish_id: str) -> None:
        """Best-effort cancel of an in-flight PULL_FROM_URL download."""
        await self._post(
            token, "cancel", {"publish_id": publish_id}, bucket="cancel", handle=publish_id
        )

    async def media_size(self, url: str) -> int | None:
        """The source's size from a HEAD request, or None when the host will not say.
        Used only to tell an unfinished upload from one TikTok is processing."""
        try:
            response = await send(
                self.http, "HEAD", url, prefix="tiktok", step="media_head", irreversible=False,
                limits=self._timeout, follow_redirects=True,
            )
        except RetryLater:
            return None
        length = response.headers.get("content-length")
        if response.status_code >= 400 or not length or not length.isdigit():
            return None
        return int(length)

    async def put_chunk(
        self,
        upload_url: str,
        data: bytes,
        content_range: str,
        content_type: str,
        *,
        final: bool,
        handle: str,
    ) -> httpx.Response:
        """PUT one chunk to the returned upload_url (no Authorization: the URL carries it).
        The final chunk is irreversible: its 201 starts posting."""
        return await send(
            self.http, "PUT", upload_url, prefix="tiktok", step="chunk_upload",
            irreversible=final, limits=self.upload_timeout, handle=handle,
            headers={"Content-Type": content_type, "Content-Range": content_range},
            content=data,
        )
