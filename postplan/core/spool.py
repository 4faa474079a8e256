"""A local, append-only, fsync'd spool for work the database cannot take right now.

When the database is unreachable, a publish request is appended here (one checksummed frame
per record, each with a unique `dedupeKey`; format in `postplan.core.spoolfile`) and
acknowledged only after every byte of the frame is written and fsync'd (and the directory, when
the file was created), so an acknowledged record survives a crash or a power cut. A write that
cannot complete — a short write, ENOSPC, EFBIG, EIO, a failed fsync — is cut back to the last
whole record and refused with `SpoolFull` (503 `spool_full`): nothing half-written is ever
acknowledged, and nothing half-written is left for the next record to land behind.

Bounds, so one client cannot fill the volume: a record may be at most `max_record_bytes`, the
file at most `max_bytes`, one owner's records at most `max_owner_bytes` (429
`spool_quota_exceeded`), and the spool at most `max_records` records.

A drain loop (`postplan.core.spooldrain`) replays the records into the database once it
answers; the sink writes them with a unique key, so a record replayed twice (crash between
commit and compaction) still lands once. Drained records leave the file by an atomic rewrite
(temp file, fsync, rename, fsync of the directory), or by truncation when nothing is left.

`depth` is always the number of distinct whole records in the file: it is recomputed from the
file whenever the file changed (another process on the host appended, compacted or cut a torn
tail). Several processes may share a directory: every write holds an exclusive `flock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from postplan.core.errors import AppError, ServiceUnavailable
from postplan.core.logging import get_logger
from postplan.core.metrics import SPOOL_DEPTH, SPOOL_OLDEST_AGE

# Re-exported: callers and tests import these from here.
from postplan.core.spooldrain import DbAvailability, Drainer
from postplan.core.spoolfile import (
    FileIndex,
    Frame,
    Record,
    Scan,
    append_durably,
    encode,
    fsync_dir,
    parse_legacy_jsonl,
    read_exactly,
    rollback,
    scan,
    stat_key,
    write_all,
)

__all__ = ["Appended", "DbAvailability", "Drainer", "Record", "Spool", "SpoolFull",
           "SpoolQuotaExceeded", "SpoolRecordTooLarge"]

log = get_logger(__name__)

#: Seconds a client is told to wait when the spool refuses a record.
RETRY_AFTER_SECONDS = 30
#: Torn bytes kept for a human in `<name>.torn` per cut, at most.
QUARANTINE_MAX_BYTES = 1 << 20


class SpoolFull(ServiceUnavailable):
    """The record could not be stored durably (spool at its cap, disk full, write failed)."""

    code = "spool_full"
    title = "Spool full"


class SpoolRecordTooLarge(ServiceUnavailable):
    """One request is bigger than a spool record may be; it can only go to the database."""

    code = "spool_record_too_large"
    title = "Request too large to queue"


class SpoolQuotaExceeded(AppError):
    """This user already has their share of the spool waiting for the database."""

    status_code = 429
    code = "spool_quota_exceeded"
    title = "Too many queued requests"


@dataclass(frozen=True)
class Appended:
    """What `append` did: the record as stored and whether its key was already spooled."""

    record: Record
    duplicate: bool


class Spool:
    """One spool file (`<directory>/<name>.spool`) shared by every process on the host."""

    def __init__(self, directory: Path | str, *, name: str = "publish",
                 max_records: int = 100_000, max_bytes: int = 256 << 20,
                 max_record_bytes: int = 256 << 10, max_owner_bytes: int | None = None) -> None:
        self.directory = Path(directory)
        self.path = self.directory / f"{name}.spool"
        self.tmp_path = self.directory / f"{name}.spool.tmp"
        #: The pre-frame format (JSON lines); migrated into `path` when found.
        self.legacy_path = self.directory / f"{name}.jsonl"
        self.dead_letter_path = self.directory / f"{name}.rejected.jsonl"
        self.quarantine_path = self.directory / f"{name}.torn"
        self._lock_path = self.directory / f"{name}.lock"
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.max_record_bytes = max_record_bytes
        self.max_owner_bytes = max_bytes if max_owner_bytes is None else max_owner_bytes
        self._thread_lock = threading.Lock()  # serialises writers in this process
        self._index_lock = threading.Lock()  # guards `_index` (never held across I/O)
        self._index = FileIndex()
        self._version = 0  # bumped on every change of `_index`
        self.directory.mkdir(parents=True, exist_ok=True)
        self.refresh()

    # -- locking -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    # -- reading -------------------------------------------------------------------------

    def _read(self) -> tuple[bytes, tuple[int, int, int] | None]:
        """The file's bytes and the stat they correspond to (read from one open file)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return b"", None
        try:
            st = os.fstat(fd)
            return read_exactly(fd, st.st_size), stat_key(st)
        finally:
            os.close(fd)

    def _scan(self) -> Scan:
        return scan(self._read()[0])

    def pending(self) -> list[Record]:
        """Spooled records not yet drained, oldest first, one per dedupe key."""
        seen: set[str] = set()
        out: list[Record] = []
        for frame in self._scan().frames:
            if frame.key not in seen:
                seen.add(frame.key)
                out.append(frame.record)
        return out

    def _file_stat(self) -> tuple[int, int, int] | None:
        try:
            return stat_key(self.path.stat())
        except FileNotFoundError:
            return None

    def _sync(self) -> FileIndex:
        """The index, re-read from the file when the file changed since it was built."""
        with self._index_lock:
            current, version = self._index, self._version
        if self._file_stat() == current.stat:
            return current
        data, stat = self._read()
        result = scan(data)
        fresh = FileIndex.of(result, stat)
        with self._index_lock:
            # Keep a newer index an appender installed while we were reading.
            if self._version == version:
                self._index = fresh
                self._version += 1
        if result.corrupt_bytes:
            log.warning("spool.corrupt_bytes_skipped", bytes=result.corrupt_bytes)
        self._update_gauges()
        return self._index

    def refresh(self) -> None:
        """Bring this process's view up to date with the file (cheap when nothing changed)."""
        if self.legacy_path.exists():
            self._migrate_legacy()
        self._sync()

    @property
    def depth(self) -> int:
        """How many distinct whole records wait in the file for the database."""
        return len(self._sync().keys)

    def oldest_age_seconds(self) -> float:
        """Age of the oldest waiting record, 0 when the spool is empty."""
        oldest = self._sync().oldest
        return 0.0 if oldest is None else max(0.0, time.time() - oldest)

    def _update_gauges(self) -> None:
        index = self._index
        SPOOL_DEPTH.set(len(index.keys))
        SPOOL_OLDEST_AGE.set(0.0 if index.oldest is None
                             else max(0.0, time.time() - index.oldest))

    # -- writing -------------------------------------------------------------------------

    def append(self, dedupe_key: str, kind: str, data: Record, *,
               owner: str | None = None) -> Appended:
        """Durably store one record; returns only after all its bytes reach the disk.

        A key already waiting is not written again (the caller answers as before). Raises
        `SpoolFull` (nothing stored) when the record cannot be made durable or the spool is at
        a cap, `SpoolRecordTooLarge` for a record over `max_record_bytes`, and
        `SpoolQuotaExceeded` when `owner` already has `max_owner_bytes` waiting.
        """
        if not dedupe_key or len(dedupe_key) > 255:
            raise ValueError("dedupe_key must be 1..255 characters")
        record: Record = {
            "dedupeKey": dedupe_key,
            "kind": kind,
            "owner": owner,
            "spooledAt": time.time(),
            "spooledAtIso": dt.datetime.now(dt.UTC).isoformat(),
            "pid": os.getpid(),
            "data": data,
        }
        frame = encode(record)
        if len(frame) > self.max_record_bytes:
            raise SpoolRecordTooLarge(
                f"the request needs {len(frame)} bytes to queue, more than the "
                f"{self.max_record_bytes} a queued request may take; retry when the database "
                "is back", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        with self._locked():
            index = self._sync()
            if dedupe_key in index.keys:
                stored = self._record_at(dedupe_key, *index.keys[dedupe_key])
                return Appended(stored, duplicate=True)
            self._check_caps(index, owner, len(frame))
            self._write_frames(index, [(record, frame)])
        log.info("spool.appended", dedupeKey=dedupe_key, kind=kind, bytes=len(frame),
                 depth=len(self._index.keys))
        return Appended(record, duplicate=False)

    async def append_async(self, dedupe_key: str, kind: str, data: Record, *,
                           owner: str | None = None) -> Appended:
        """`append` off the event loop (fsync blocks for milliseconds)."""
        return await asyncio.to_thread(self.append, dedupe_key, kind, data, owner=owner)

    def _record_at(self, key: str, offset: int, size: int) -> Record:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            found = scan(os.pread(fd, size, offset)).frames
        finally:
            os.close(fd)
        if found and found[0].key == key:
            return found[0].record
        # Cannot happen with the lock held and the index synced; read the file whole anyway.
        return next(r for r in self.pending() if r["dedupeKey"] == key)

    def _check_caps(self, index: FileIndex, owner: str | None, size: int) -> None:
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if len(index.keys) >= self.max_records or index.good_end + size > self.max_bytes:
            raise SpoolFull(f"the local spool holds {len(index.keys)} records "
                            f"({index.good_end} bytes); retry later", headers=retry)
        if owner is not None and index.owner_bytes.get(owner, 0) + size > self.max_owner_bytes:
            raise SpoolQuotaExceeded(
                "you already have as many requests queued as one user may while the database "
                "is unavailable; retry later", headers=retry)
        free = self._free_bytes()
        if free is not None and free < size + self._headroom(index.good_end + size):
            raise SpoolFull("the spool's volume is nearly full; retry later", headers=retry)

    def _free_bytes(self) -> int | None:
        try:
            st = os.statvfs(self.directory)
        except OSError:
            return None
        return st.f_bavail * st.f_frsize

    @staticmethod
    def _headroom(spool_bytes: int) -> int:
        """Free space to keep beside a spool of `spool_bytes`: a compaction rewrites the
        records it keeps into a new file before the old one goes, and a dead letter or a
        quarantined tail needs a little room too. Without it a full volume could take records
        that could then never be drained away."""
        return spool_bytes + 2 * 4096

    def _write_frames(self, index: FileIndex, items: list[tuple[Record, bytes]]) -> None:
        """Append (record, frame) pairs after the last whole record, all fsync'd, or leave
        the file as it was and raise SpoolFull. Called with the lock held and `index` synced.
        """
        frame = b"".join(one for _, one in items)
        created = index.stat is None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            if index.stat is not None and stat_key(os.fstat(fd)) != index.stat:
                raise SpoolFull("the spool file changed while locked; retry",
                                headers={"Retry-After": "1"})
            self._cut_torn_tail(fd, index.good_end)
            try:
                write_all(fd, frame)
                os.fsync(fd)
                if created:
                    fsync_dir(self.directory)
            except OSError as exc:
                rollback(fd, index.good_end)
                log.error("spool.append_failed", errorType=type(exc).__name__,
                          errno=exc.errno, bytes=len(frame))
                raise SpoolFull("the request could not be stored durably in the local spool "
                                f"({os.strerror(exc.errno) if exc.errno else 'write failed'})"
                                "; retry later",
                                headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from exc
            stat = stat_key(os.fstat(fd))
        finally:
            os.close(fd)
        with self._index_lock:
            for record, one in items:
                index.add(Frame(offset=index.good_end, size=len(one), record=record))
                index.good_end += len(one)
            index.stat = stat
            self._index = index
            self._version += 1
        self._update_gauges()

    def _cut_torn_tail(self, fd: int, good_end: int) -> None:
        """Drop bytes after the last whole record (an append that never completed, so was
        never acknowledged); a copy goes to `<name>.torn` for a human when there is room."""
        size = os.fstat(fd).st_size
        if size <= good_end:
            return
        torn = os.pread(fd, min(size - good_end, QUARANTINE_MAX_BYTES), good_end)
        try:
            append_durably(self.quarantine_path, torn)
        except OSError as exc:  # a full disk: the bytes were never acknowledged; drop them
            log.warning("spool.quarantine_failed", errorType=type(exc).__name__)
        try:
            os.ftruncate(fd, good_end)
            os.fsync(fd)
        except OSError as exc:
            raise SpoolFull("the local spool could not be repaired; retry later",
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from exc
        log.warning("spool.torn_tail_cut", bytes=size - good_end)

    def remove(self, keys: set[str]) -> int:
        """Atomically drop `keys` from the spool; records appended meanwhile stay."""
        if not keys:
            return 0
        with self._locked():
            data, _ = self._read()
            result = scan(data)
            removed = {f.key for f in result.frames} & keys
            kept = [f for f in result.frames if f.key not in keys]
            if not removed and not result.corrupt_bytes:
                return 0
            if kept:
                self._rewrite(data, kept)
            else:
                self._truncate()  # the usual case; needs no free space, unlike a rewrite
            self._sync()
            return len(removed)

    def _rewrite(self, data: bytes, kept: list[Frame]) -> None:
        """Replace the file by the `kept` frames (their bytes as stored: no re-encoding)."""
        payload = b"".join(data[f.offset:f.offset + f.size] for f in kept)
        fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            write_all(fd, payload)
            os.fsync(fd)
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(self.tmp_path)
            raise
        os.close(fd)
        os.replace(self.tmp_path, self.path)
        fsync_dir(self.directory)

    def _truncate(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            fd = os.open(self.path, os.O_RDWR)
            try:
                os.ftruncate(fd, 0)
                os.fsync(fd)
            finally:
                os.close(fd)

    def dead_letter(self, record: Record, reason: str) -> None:
        """Set a record aside for a human (it can never be written), then drop it.

        When the dead-letter file cannot be written (full disk), the record stays spooled.
        """
        line = json.dumps({**record, "rejectedReason": reason}, default=str).encode() + b"\n"
        with self._locked():
            append_durably(self.dead_letter_path, line)
        self.remove({record["dedupeKey"]})
        log.error("spool.dead_letter", dedupeKey=record["dedupeKey"], reason=reason)

    def _migrate_legacy(self) -> None:
        """Move records of the JSON-lines format (an older version's file) into frames.

        Runs whenever the old file appears (an old process on the host may still write it);
        they were acknowledged, so no cap applies. On failure both files stay as they are.
        """
        with self._locked():
            try:
                legacy = self.legacy_path.read_bytes()
            except FileNotFoundError:
                return
            index = self._sync()
            records = [r for r in parse_legacy_jsonl(legacy) if r["dedupeKey"] not in index.keys]
            try:
                if records:
                    self._write_frames(index, [(r, encode(r)) for r in records])
                os.unlink(self.legacy_path)
                fsync_dir(self.directory)
            except (OSError, SpoolFull) as exc:
                log.error("spool.legacy_migration_failed", errorType=type(exc).__name__)
                return
        log.warning("spool.legacy_migrated", records=len(records))

