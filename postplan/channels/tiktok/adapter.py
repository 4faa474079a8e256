"""TikTok Content Posting API v2 adapter: creator_info preflight, Direct Post (video by URL or by
chunked upload, photos), upload to inbox (drafts), status polling.

The irreversible call is the init for pulled media (TikTok starts downloading at once) and the
final chunk PUT for FILE_UPLOAD (posting starts when it returns 201). The publish_id is handed to
`on_handle` before any upload work, and a publish is never re-initialised once it may exist.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

import httpx

from postplan.channels.backoff import backoff_delay
from postplan.channels.base import (
    AdapterResult,
    ByteSource,
    Credentials,
    Finding,
    HandleCallback,
    OutcomeUnknown,
    PermanentError,
    PublishRequest,
    RetryLater,
)
from postplan.channels.config import ChannelConfig
from postplan.channels.ratelimit import RateLedger
from postplan.channels.tiktok.client import PATHS, TikTokClient
from postplan.channels.tiktok.errors import fail_reason_error
from postplan.channels.tiktok.payloads import (
    DIRECT_POST,
    FILE_UPLOAD,
    MEDIA_UPLOAD,
    init_request,
    post_mode,
    source,
)
from postplan.channels.tiktok.rules import creator_findings, validate_request
from postplan.channels.tiktok.source import open_source
from postplan.channels.tiktok.upload import ChunkPlan, ChunkRules, plan_chunks
from postplan.core.logging import get_logger
from postplan.core.vocab import Channel

__all__ = ["TikTokAdapter"]

log = get_logger(__name__)

_PROCESSING = {"PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD"}
_RANGE = re.compile(r"bytes\s+\d+-(\d+)/(\d+)")


class TikTokAdapter:
    """One instance serves every TikTok account; `http` is the process's shared client."""

    channel = Channel.tiktok

    def __init__(
        self,
        http: httpx.AsyncClient,
        config: ChannelConfig,
        *,
        chunk_rules: ChunkRules | None = None,
        ledger: RateLedger | None = None,
    ) -> None:
        self.config = config
        self.client = TikTokClient(http, config, ledger)
        self.chunk_rules = chunk_rules or ChunkRules()

    # -- offline -------------------------------------------------------------------------------

    def build_payload(self, req: PublishRequest) -> dict[str, Any]:
        """Every request in order, with `{placeholders}` for values only TikTok can give."""
        plan: ChunkPlan | None = None
        size = req.options.get("video_size")
        if size is None and req.media and req.media[0].media_id is not None:
            size = req.media[0].size  # a stored file: its size is known before any upload
        if source(req) == FILE_UPLOAD and isinstance(size, int) and size > 0:
            try:
                plan = plan_chunks(size, self.chunk_rules)
            except ValueError:
                plan = None
        name, body = init_request(req, plan)
        base = self.config.api_base
        steps: list[dict[str, Any]] = []
        if post_mode(req) == DIRECT_POST:
            steps.append({"method": "POST", "url": base + PATHS["creator_info"], "body": None})
        steps.append({"method": "POST", "url": base + PATHS[name], "body": body})
        if source(req) == FILE_UPLOAD:
            chunks: Any = (
                [{"Content-Range": c.content_range(plan.video_size)} for c in plan.chunks()]
                if plan else "{chunks per the Media Transfer Guide, from the downloaded size}"
            )
            steps.append({"method": "PUT", "url": "{upload_url}", "chunks": chunks})
        steps.append({"method": "POST", "url": base + PATHS["status"],
                      "body": {"publish_id": "{publish_id}"}})
        return {"channel": self.channel.value, "format": req.format.value, "requests": steps}

    def validate(
        self, req: PublishRequest, *, now: datetime, posts_in_last_24h: int
    ) -> list[Finding]:
        """Offline findings; see `rules.validate_request`."""
        return validate_request(req, now=now, posts_in_last_24h=posts_in_last_24h)

    # -- online --------------------------------------------------------------------------------

    async def preflight(self, creds: Credentials, req: PublishRequest) -> None:
        """creator_info: can this creator post now, with this privacy level and duration?
        Drafts (MEDIA_UPLOAD) need only `video.upload`, so they skip it."""
        if post_mode(req) == MEDIA_UPLOAD:
            return
        info = await self.client.creator_info(creds.access_token)
        findings = creator_findings(req, info)
        if findings:
            first = findings[0]
            platform = ("privacy_level_option_mismatch"
                        if first.code == "tiktok_privacy_not_offered" else None)
            raise PermanentError(first.code, "; ".join(f.message for f in findings),
                                 platform_code=platform)

    async def creator_info(self, creds: Credentials) -> dict[str, Any]:
        """creator_info as TikTok sends it (nickname, avatar, privacy levels, switches)."""
        return await self.client.creator_info(creds.access_token)

    async def prepare(self, creds: Credentials, req: PublishRequest) -> str | None:
        """Nothing reversible to do on TikTok: init itself may already publish."""
        return None

    async def publish(
        self,
        creds: Credentials,
        req: PublishRequest,
        handle: str | None,
        *,
        on_handle: HandleCallback | None = None,
    ) -> AdapterResult:
        """init (and upload) once; returns `processing` with the publish_id as handle."""
        if handle:
            # A publish_id exists: the post may already be under way. Init again only when
            # TikTok shows it cannot complete (unknown id, upload that never finished).
            known = await self.reconcile(creds, req, handle)
            if known is not None and known.state != "not_published":
                return known
        if source(req) == FILE_UPLOAD:
            return await self._publish_file(creds, req, on_handle)
        name, body = init_request(req)
        data = await self.client.init(creds.access_token, name, body, irreversible=True)
        publish_id = str(data["publish_id"])
        log.info("channels.tiktok.init", endpoint=name, publish_id=publish_id)
        if on_handle is not None:
            await on_handle(publish_id)
        return AdapterResult(state="processing", handle=publish_id,
                             detail={"publish_id": publish_id, "source": source(req)})

    async def _publish_file(
        self, creds: Credentials, req: PublishRequest, on_handle: HandleCallback | None
    ) -> AdapterResult:
        ref = req.media[0]
        opened = (req.open_media(ref) if ref.media_id is not None
                  else open_source(self.client.http, ref.url, self.client.upload_timeout))
        async with opened as media:
            try:
                plan = plan_chunks(media.size, self.chunk_rules)
            except ValueError as exc:
                raise PermanentError("tiktok_video_size_invalid", str(exc)) from None
            name, body = init_request(req, plan)
            # Without the bytes nothing can be posted, so an unclear init is safe to retry.
            data = await self.client.init(creds.access_token, name, body, irreversible=False)
            publish_id = str(data["publish_id"])
            upload_url = str(data.get("upload_url") or "")
            if not upload_url:
                raise PermanentError("tiktok_bad_response",
                                     "TikTok's init returned no upload_url.")
            if on_handle is not None:
                await on_handle(publish_id)
            await self._upload(publish_id, upload_url, media, plan)
        log.info("channels.tiktok.uploaded", publish_id=publish_id,
                 chunks=plan.total_chunk_count, bytes=plan.video_size)
        return AdapterResult(
            state="processing", handle=publish_id,
            detail={"publish_id": publish_id, "source": FILE_UPLOAD,
                    "chunks": plan.total_chunk_count, "video_size": plan.video_size},
        )

    async def _upload(
        self, publish_id: str, upload_url: str, media: ByteSource, plan: ChunkPlan
    ) -> None:
        chunks = plan.chunks()
        for chunk in chunks:
            final = chunk.index == len(chunks) - 1
            data = await media.read(chunk.size)
            attempt = 0
            while True:
                attempt += 1
                try:
                    response = await self.client.put_chunk(
                        upload_url, data, chunk.content_range(plan.video_size),
                        media.content_type, final=final, handle=publish_id,
                    )
                except RetryLater as exc:
                    if attempt > self.config.chunk_retries:
                        # Not the final chunk (that one raises OutcomeUnknown): nothing can be
                        # posted from a partial upload, so starting over is safe.
                        raise RetryLater(exc.code, exc.message, retry_after=exc.retry_after,
                                         platform_code=exc.platform_code) from None
                    await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
                    continue
                status = response.status_code
                if status in (200, 201, 206):
                    break
                if status == 416 and self._already_has(response, chunk.last):
                    break
                if status >= 500 and attempt <= self.config.chunk_retries:
                    await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
                    continue
                self._raise_upload(status, final, publish_id)

    @staticmethod
    def _already_has(response: httpx.Response, last: int) -> bool:
        match = _RANGE.search(response.headers.get("content-range", ""))
        return bool(match) and int(match.group(1)) >= last  # type: ignore[union-attr]

    @staticmethod
    def _raise_upload(status: int, final: bool, publish_id: str) -> None:
        if status >= 500 and final:
            raise OutcomeUnknown(
                "tiktok_outcome_unknown",
                "TikTok kept failing the last chunk; the post may exist - reconcile first.",
                http_status=status, handle=publish_id,
            )
        if status >= 500 or status in (403, 404, 416):
            # Upload URL expired/unknown or progress lost: this publish can never complete,
            # so a fresh init is safe (no handle: the publish_id is dead).
            raise RetryLater(
                "tiktok_upload_failed",
                f"TikTok's upload answered HTTP {status}; the upload will start over.",
                retry_after=backoff_delay(1), http_status=status,
            )
        raise PermanentError("tiktok_upload_rejected",
                             f"TikTok rejected the upload (HTTP {status}).",
                             http_status=status, handle=publish_id)

    async def poll(self, creds: Credentials, req: PublishRequest, handle: str) -> AdapterResult:
        """One status/fetch. PUBLISH_COMPLETE and SEND_TO_USER_INBOX are terminal successes."""
        data = await self.client.status(creds.access_token, handle)
        status = str(data.get("status") or "")
        detail: dict[str, Any] = {"publish_id": handle, "status": status}
        for key in ("uploaded_bytes", "downloaded_bytes"):
            if key in data:
                detail[key] = data[key]
        if status == "FAILED":
            raise fail_reason_error(str(data.get("fail_reason") or "unknown"), handle=handle)
        if status == "PUBLISH_COMPLETE":
            ids = [str(i) for i in data.get("publicaly_available_post_id") or []]
            detail["post_ids"] = ids
            return AdapterResult(state="published", handle=handle,
                                 platform_post_id=ids[0] if ids else None, detail=detail)
        if status == "SEND_TO_USER_INBOX":
            detail["inbox"] = True
            return AdapterResult(state="published", handle=handle, detail=detail)
        return AdapterResult(state="processing", handle=handle, detail=detail)

    async def _media_size(self, req: PublishRequest) -> int | None:
        """The video's size: known for a stored file, else asked of its host."""
        if not req.media:
            return None
        ref = req.media[0]
        if ref.media_id is not None:
            return ref.size
        return await self.client.media_size(ref.url)

    async def reconcile(
        self, creds: Credentials, req: PublishRequest, handle: str | None
    ) -> AdapterResult | None:
        """With a publish_id, ask status/fetch; without one TikTok cannot tell (no lookup by
        caption or client reference), so return None for a human to check."""
        if not handle:
            return None
        try:
            result = await self.poll(creds, req, handle)
        except PermanentError as exc:
            if exc.platform_code == "invalid_publish_id":
                return AdapterResult(state="not_published", handle=None,
                                     detail={"publish_id": handle, "reason": "unknown_publish"})
            raise
        if result.state == "processing" and result.detail.get("status") == "PROCESSING_UPLOAD":
            uploaded = int(result.detail.get("uploaded_bytes") or 0)
            size = await self._media_size(req) if uploaded else None
            if uploaded == 0 or (size is not None and uploaded < size):
                # The bytes never all arrived, so this publish can never complete: start over.
                return AdapterResult(state="not_published", handle=None,
                                     detail={**result.detail, "reason": "upload_incomplete"})
        return result
