"""The background job that inspects uploads: probe, check against each platform's limits, make
the derived copies, store them beside the original, and mark the row `ready` or `rejected`.

Durable because it is driven from the table: every `processing` row is work, whoever uploaded
it and whenever. A process claims a row with a lease (`lease_expires_at`), so any number of
processes run the job side by side, and a row whose process died (a restart mid-inspection) is
taken up again when its lease runs out. A file that keeps failing in unexpected ways is
rejected after `MAX_ATTEMPTS` instead of being retried forever; a corrupt file is rejected at
once with the inspector's reason. Nothing here can crash the loop: each row's failure is
caught, logged and recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from postplan.core.db import create_sessionmaker, utcnow
from postplan.core.logging import get_logger
from postplan.core.metrics import MEDIA_INSPECTION_SECONDS, MEDIA_PROCESSED, MEDIA_QUEUE_DEPTH
from postplan.media.inspection import InspectionError, Probe, derive, evaluate, probe
from postplan.media.resources import MediaResources, upload_path
from postplan.models import Media, MediaUpload

log = get_logger(__name__)

MAX_ATTEMPTS = 3
#: How long one process may hold a row: a 4 GiB video's probe and copies fit well inside.
LEASE = dt.timedelta(minutes=15)
#: How often expired resumable uploads are swept.
SWEEP_SECONDS = 60.0
#: How often the store is listed for files no row names (a bucket listing is not free).
ORPHAN_SWEEP_SECONDS = 3600.0

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp",
               "video/mp4": "mp4", "video/quicktime": "mov"}


class Processor:
    """Claims `processing` rows one at a time and inspects them."""

    def __init__(self, engine: AsyncEngine, res: MediaResources,
                 owner: str | None = None) -> None:
        self.res = res
        self.read = create_sessionmaker(engine)
        self.write: async_sessionmaker[AsyncSession] = create_sessionmaker(engine, write=True)
        self.owner = owner or uuid.uuid4().hex[:12]

    async def claim(self) -> Media | None:
        """Lease the oldest row waiting (or whose lease ran out); None when there is none."""
        now = utcnow()
        async with self.read() as session:
            waiting = or_(Media.lease_expires_at.is_(None), Media.lease_expires_at < now)
            candidates = (await session.scalars(
                select(Media.id).where(Media.status == "processing", waiting)
                .order_by(Media.created_at).limit(5))).all()
        for media_id in candidates:
            async with self.write() as session, session.begin():
                done = await session.execute(
                    update(Media).where(Media.id == media_id, Media.status == "processing",
                                        or_(Media.lease_expires_at.is_(None),
                                            Media.lease_expires_at < now))
                    .values(lease_expires_at=now + LEASE, attempts=Media.attempts + 1))
                if getattr(done, "rowcount", 0) == 1:
                    return await session.get(Media, media_id)
        return None

    async def depth(self) -> int:
        """Rows waiting or in processing (for the queue-depth gauge)."""
        async with self.read() as session:
            count = await session.scalar(
                select(func.count()).select_from(Media).where(Media.status == "processing"))
        return int(count or 0)

    async def run_once(self) -> bool:
        """Process one row; False when there was nothing to do."""
        row = await self.claim()
        if row is None:
            return False
        await self.process(row)
        return True

    async def process(self, row: Media) -> None:
        """Inspect one claimed row and record the outcome (never raises but on cancel)."""
        started = time.perf_counter()
        if row.attempts > MAX_ATTEMPTS:
            await self._finish(row, {"status": "rejected", "error": {
                "code": "inspection_failed",
                "message": f"inspection failed {MAX_ATTEMPTS} times; upload the file again"}})
            return
        work = Path(tempfile.mkdtemp(prefix=f"media-{row.id}-"))
        stored: list[str] = []
        try:
            values = await self._inspect(row, work, stored)
        except InspectionError as exc:
            values = {"status": "rejected", "error": {"code": exc.code, "message": exc.message}}
        except asyncio.CancelledError:
            # Shutting down: the lease runs out and another start picks the row up again.
            await self.res.store.delete(stored)
            raise
        except Exception as exc:
            log.warning("media.processing_error", mediaId=str(row.id), error=repr(exc)[:500],
                        attempt=row.attempts)
            await self.res.store.delete(stored)
            await self._release(row)
            return
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)
        MEDIA_INSPECTION_SECONDS.labels(kind=row.kind).observe(time.perf_counter() - started)
        if not await self._finish(row, values):
            await self.res.store.delete(stored)  # deleted meanwhile: drop what we made

    async def _inspect(self, row: Media, work: Path, stored: list[str]) -> dict[str, Any]:
        source = self.res.store.local_path(row.storage_key)
        if source is None:
            source = work / f"original.{_EXTENSIONS.get(row.content_type, 'bin')}"
            await self.res.store.fetch_to(row.storage_key, source)
        info: Probe = await probe(source)
        checks = {name: result.model_dump(mode="json")
                  for name, result in evaluate(info).items()}
        derived: dict[str, Any] = {}
        for copy in await derive(info, source, work / "derived"):
            key = f"{row.id}/{copy.role}{copy.path.suffix}"
            await self.res.store.put_file(key, copy.path, copy.content_type)
            stored.append(key)
            derived[copy.role] = {"key": key, "contentType": copy.content_type,
                                  "bytes": copy.path.stat().st_size,
                                  "width": copy.width, "height": copy.height}
        return {"status": "ready", "error": None, "width": info.width, "height": info.height,
                "duration_seconds": info.duration_seconds, "frame_rate": info.frame_rate,
                "video_codec": info.video_codec, "audio_codec": info.audio_codec,
                "checks": checks, "probe": info.model_dump(mode="json"), "derived": derived}

    async def _finish(self, row: Media, values: dict[str, Any]) -> bool:
        """Write the outcome while the lease is ours; False when the row is gone."""
        async with self.write() as session, session.begin():
            done = await session.execute(
                update(Media).where(Media.id == row.id, Media.status == "processing")
                .values(**values, lease_expires_at=None))
        if getattr(done, "rowcount", 0) != 1:
            return False
        MEDIA_PROCESSED.labels(result=values["status"]).inc()
        log.info("media.processed", mediaId=str(row.id), userId=row.user_id,
                 status=values["status"], error=values.get("error"))
        return True

    async def _release(self, row: Media) -> None:
        """Give an unexpectedly failed row back (after a short pause) for another attempt."""
        async with self.write() as session, session.begin():
            await session.execute(
                update(Media).where(Media.id == row.id, Media.status == "processing")
                .values(lease_expires_at=utcnow() + dt.timedelta(seconds=5)))

    async def sweep_uploads(self) -> int:
        """Remove resumable uploads past their expiry, with their bytes so far."""
        now = utcnow()
        async with self.write() as session, session.begin():
            expired = (await session.scalars(
                select(MediaUpload.id).where(MediaUpload.expires_at < now).limit(500))).all()
            if expired:
                await session.execute(delete(MediaUpload).where(MediaUpload.id.in_(expired)))
        for upload_id in expired:
            upload_path(self.res.settings, upload_id).unlink(missing_ok=True)
        return len(expired)

    async def sweep_orphans(self, now: float | None = None) -> list[str]:
        """Remove stored files that no media row names and that are older than
        `MEDIA_ORPHAN_HOURS`: what a delete whose object removal failed left behind, or an upload
        whose process died between storing the file and writing its row. The age keeps an
        upload in flight (file stored, row not yet written) safe. Returns the keys removed."""
        cutoff = (now or time.time()) - self.res.settings.media_orphan_hours * 3600
        old: dict[uuid.UUID, list[str]] = {}
        async for key, modified in self.res.store.list_keys():
            head = key.split("/", 1)[0]
            try:
                media_id = uuid.UUID(head)
            except ValueError:
                continue  # not a key postplan made: never touched
            if modified < cutoff:
                old.setdefault(media_id, []).append(key)
        if not old:
            return []
        known: set[uuid.UUID] = set()
        ids = list(old)
        async with self.read() as session:
            for i in range(0, len(ids), 500):
                known |= set((await session.scalars(
                    select(Media.id).where(Media.id.in_(ids[i:i + 500])))).all())
        gone = [key for media_id, keys in old.items() if media_id not in known for key in keys]
        if gone:
            await self.res.store.delete(gone)
            log.info("media.orphans_removed", count=len(gone), keys=gone[:20])
        return gone

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop`: drain what is waiting, then sleep until woken or the poll."""
        poll = self.res.settings.media_poll_seconds
        swept = 0.0
        # Not at start: a rolling deploy restarts every process, and each would list the bucket.
        orphans_swept = time.monotonic()
        while not stop.is_set():
            try:
                if time.monotonic() - swept > SWEEP_SECONDS:
                    swept = time.monotonic()
                    await self.sweep_uploads()
                if time.monotonic() - orphans_swept > ORPHAN_SWEEP_SECONDS:
                    orphans_swept = time.monotonic()
                    await self.sweep_orphans()
                MEDIA_QUEUE_DEPTH.set(await self.depth())
                while not stop.is_set() and await self.run_once():
                    MEDIA_QUEUE_DEPTH.set(await self.depth())
            except Exception as exc:
                log.warning("media.processing_loop_error", error=repr(exc)[:500])
            self.res.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(stop, self.res.wake), poll)


async def _first(*events: asyncio.Event) -> None:
    """Return as soon as any event is set."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


@contextlib.asynccontextmanager
async def running(engine: AsyncEngine, res: MediaResources) -> AsyncIterator[Processor]:
    """The job as a background task for the block's duration."""
    processor = Processor(engine, res)
    stop = asyncio.Event()
    task = asyncio.create_task(processor.run(stop), name="media-processing")
    try:
        yield processor
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
