"""One file into the library: stream it to the store (limits enforced while it streams), sniff
its type from the first bytes, hash it, then add its row (`status: processing`). Used by the
multipart upload and by the last byte of a resumable (tus) upload.

All or nothing: any failure — a limit, an unreadable type, the client going away mid-body
(Starlette's `ClientDisconnect`, or the task being cancelled) — aborts the store's writer, so
nothing is left under any key, and no row is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from postplan.core.db import utcnow
from postplan.core.logging import get_logger
from postplan.core.metrics import MEDIA_UPLOAD_BYTES, MEDIA_UPLOAD_OUTCOMES, MEDIA_UPLOADS
from postplan.media.errors import (
    BadFilename,
    EmptyMedia,
    MediaQuotaExceeded,
    MediaTooLarge,
    UnsupportedMedia,
)
from postplan.media.inspection import HEAD_BYTES, SniffResult, extension_matches, sniff
from postplan.media.resources import MediaResources
from postplan.media.service import usage_bytes
from postplan.models import Media

log = get_logger(__name__)

MAX_FILENAME_BYTES = 255


def check_filename(raw: str | None, sniffed_ext: str | None = None) -> str:
    """The name to keep. A name with a path separator or a control character is refused
    (422 `media_filename_invalid`) rather than silently rewritten: a browser sends a bare
    name, so such a name is a client bug or an attack, and the client should know. A missing
    name becomes `upload`."""
    if raw is None or raw.strip() == "":
        return "upload"
    name = unicodedata.normalize("NFC", raw)
    if "/" in name or "\\" in name:
        raise BadFilename("the filename may not contain / or \\")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise BadFilename("the filename may not contain control characters")
    if name in (".", "..") or len(name.encode()) > MAX_FILENAME_BYTES:
        raise BadFilename(f"the filename must be 1 to {MAX_FILENAME_BYTES} bytes, not . or ..")
    return name


@dataclass
class Limits:
    """What this upload may take: the per-file limit, and what the quota leaves."""

    max_bytes: int
    quota_left: int

    @property
    def bound(self) -> int:
        return min(self.max_bytes, self.quota_left)

    def exceeded(self, size: int) -> Exception:
        if size > self.max_bytes:
            return MediaTooLarge(f"the file is larger than the limit of {self.max_bytes} bytes",
                                 extra={"maxBytes": self.max_bytes})
        return MediaQuotaExceeded(
            f"the file does not fit in your storage quota ({self.quota_left} bytes left)",
            extra={"quotaBytesLeft": max(self.quota_left, 0)})


async def limits_for(session: AsyncSession, res: MediaResources, user_id: str) -> Limits:
    """The user's limits now (quota left = MEDIA_QUOTA_BYTES - bytes stored)."""
    used = await usage_bytes(session, user_id)
    return Limits(res.settings.media_max_bytes, res.settings.media_quota_bytes - used)


def sniff_or_refuse(head: bytes, filename: str) -> SniffResult:
    """The sniffed type, or 422 (empty) / 415 (not media; bytes not what the name says)."""
    if not head:
        raise EmptyMedia("the file is empty (0 bytes)")
    found = sniff(head[:HEAD_BYTES])
    if found is None:
        raise UnsupportedMedia("the file is not an image or a video postplan can read")
    if not extension_matches(filename, found):
        raise UnsupportedMedia(
            f"the file's name says one type but its bytes are {found.content_type}; "
            f"rename it to .{found.extension}", code="media_type_mismatch",
            extra={"contentType": found.content_type})
    return found


#: The stream is handed to hashing and the store in batches of this size, each in a task of
#: its own while the next batch is received: the socket, the hash and the disk work at once.
BATCH = 4 << 20


async def store_stream(res: MediaResources, media_id: uuid.UUID, filename: str,
                       chunks: AsyncIterator[bytes], limits: Limits,
                       ) -> tuple[str, int, str, SniffResult]:
    """Write the stream under the media's key: (key, size, sha256, sniffed). Raises (and
    leaves nothing) on a limit, an empty or unreadable file, or a broken stream."""
    key = f"{media_id}/original"
    writer = res.store.writer(key)
    digest = hashlib.sha256()
    size = 0
    batch = bytearray()
    found: SniffResult | None = None
    pending: asyncio.Task[None] | None = None
    committed = False

    async def consume(block: bytes) -> None:
        # hashlib releases the GIL on large buffers: the hash runs beside the event loop.
        await asyncio.to_thread(digest.update, block)
        await writer.write(block)

    async def hand_on() -> None:
        nonlocal pending
        if pending is not None:
            await pending
        block = bytes(batch)
        batch.clear()
        pending = asyncio.create_task(consume(block))

    try:
        async for chunk in chunks:
            if not chunk:
                continue
            size += len(chunk)
            if size > limits.bound:
                raise limits.exceeded(size)
            batch += chunk
            if found is None:
                if len(batch) < HEAD_BYTES:
                    continue
                found = sniff_or_refuse(bytes(batch), filename)
            if len(batch) >= BATCH:
                await hand_on()
        if found is None:
            found = sniff_or_refuse(bytes(batch), filename)
        await hand_on()
        assert pending is not None
        await pending
        await writer.commit()
        committed = True
    finally:
        if not committed:
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
            await writer.abort()
    return key, size, digest.hexdigest(), found


async def ingest(maker: async_sessionmaker[AsyncSession], res: MediaResources, user_id: str,
                 filename: str, chunks: AsyncIterator[bytes], *, limits: Limits,
                 transport: str) -> Media:
    """Store the stream and add its row (`processing`); wakes the processing job."""
    started = time.perf_counter()
    media_id = uuid.uuid4()
    try:
        key, size, sha256, found = await store_stream(res, media_id, filename, chunks, limits)
    except BaseException as exc:
        _count_failure(exc)
        raise
    try:
        async with maker() as session, session.begin():
            # Checked again at the end: two uploads at once may each have fitted alone.
            left = res.settings.media_quota_bytes - await usage_bytes(session, user_id)
            if size > left:
                raise Limits(res.settings.media_max_bytes, left).exceeded(size)
            row = Media(id=media_id, user_id=user_id, kind=found.kind,
                        content_type=found.content_type, filename=filename, bytes=size,
                        sha256=sha256, storage_key=key, status="processing", attempts=0,
                        created_at=utcnow())
            session.add(row)
    except BaseException as exc:
        await res.store.delete([key])
        _count_failure(exc)
        raise
    MEDIA_UPLOADS.labels(outcome="stored").inc()
    MEDIA_UPLOAD_BYTES.inc(size)
    res.wake.set()
    log.info("media.uploaded", mediaId=str(media_id), bytes=size, kind=found.kind,
             contentType=found.content_type, transport=transport,
             seconds=round(time.perf_counter() - started, 3))
    return row


def _count_failure(exc: BaseException) -> None:
    code = getattr(exc, "code", None)
    MEDIA_UPLOADS.labels(outcome=code if code in MEDIA_UPLOAD_OUTCOMES else "aborted").inc()
