"""A local, append-only, fsync'd spool for work the database cannot take right now.

When the database is unreachable, a publish request is appended here (one JSON line per record,
each with a unique `dedupeKey`) and acknowledged only after the line and its directory are
fsync'd, so an acknowledged record survives a crash or a power cut. A drain loop replays the
records into the database once it answers; the sink writes them with
`INSERT … ON CONFLICT DO NOTHING` on the dedupe key, so a record replayed twice (crash between
commit and compaction) still lands once. Drained records leave the file by an atomic rewrite
(temp file, fsync, rename, fsync of the directory).

Crash safety: a torn last line (no trailing newline: the write or its fsync never finished, so
it was never acknowledged) is ignored by readers and cut off before the next append. Several
processes may share a directory: every append and compaction holds an exclusive `flock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from postplan.core.errors import ServiceUnavailable
from postplan.core.logging import get_logger
from postplan.core.metrics import SPOOL_DEPTH, SPOOL_OLDEST_AGE

log = get_logger(__name__)

Record = dict[str, Any]
#: Writes one record into the database; raises when the database is unavailable.
Sink = Callable[[Record], Awaitable[None]]

#: Consecutive non-connectivity failures after which a record is set aside (dead letter).
MAX_RECORD_FAILURES = 5


class SpoolFull(ServiceUnavailable):
    """The spool holds as many records as it may; the client should retry later."""

    code = "spool_full"
    title = "Spool full"


class RecordRejected(Exception):
    """Raised by a sink: this record can never be written (set it aside for a human)."""


class RetryLater(Exception):
    """Raised by a sink: not now (e.g. a concurrent request holds the same key); no penalty."""


@dataclass(frozen=True)
class Appended:
    """What `append` did: the record as stored and whether its key was already spooled."""

    record: Record
    duplicate: bool


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse(data: bytes) -> list[Record]:
    """Complete, valid lines only: a torn tail or a corrupt line is skipped, not fatal."""
    records: list[Record] = []
    lines = data.split(b"\n")
    # The element after the last newline is a torn (unacknowledged) write or empty.
    for raw in lines[:-1]:
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            log.warning("spool.corrupt_line", bytes=len(raw))
            continue
        if isinstance(rec, dict) and isinstance(rec.get("dedupeKey"), str):
            records.append(rec)
    return records


class Spool:
    """One spool file (`<directory>/<name>.jsonl`) shared by every process on the host."""

    def __init__(self, directory: Path | str, *, name: str = "publish",
                 max_records: int = 100_000) -> None:
        self.directory = Path(directory)
        self.path = self.directory / f"{name}.jsonl"
        self.dead_letter_path = self.directory / f"{name}.rejected.jsonl"
        self._lock_path = self.directory / f"{name}.lock"
        self.max_records = max_records
        self._thread_lock = threading.Lock()
        self._keys: set[str] = set()
        self._oldest: float | None = None
        # (inode, size) of the file when `_keys` was last computed: skip re-reading on append.
        self._stat: tuple[int, int] | None = None
        self.directory.mkdir(parents=True, exist_ok=True)
        self._refresh_index()

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

    def _read_raw(self) -> bytes:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return b""

    def pending(self) -> list[Record]:
        """Spooled records not yet drained, oldest first, one per dedupe key."""
        seen: set[str] = set()
        out: list[Record] = []
        for rec in _parse(self._read_raw()):
            if rec["dedupeKey"] not in seen:
                seen.add(rec["dedupeKey"])
                out.append(rec)
        return out

    @property
    def depth(self) -> int:
        """How many distinct records wait for the database (this process's view)."""
        return len(self._keys)

    def oldest_age_seconds(self) -> float:
        """Age of the oldest waiting record, 0 when the spool is empty."""
        return 0.0 if self._oldest is None else max(0.0, time.time() - self._oldest)

    def _file_stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size)

    def _refresh_index(self) -> None:
        stat = self._file_stat()
        records = self.pending()
        self._stat = stat
        self._keys = {r["dedupeKey"] for r in records}
        self._oldest = min((float(r.get("spooledAt", time.time())) for r in records),
                           default=None)
        self._publish_gauges()

    def _publish_gauges(self) -> None:
        SPOOL_DEPTH.set(len(self._keys))
        SPOOL_OLDEST_AGE.set(self.oldest_age_seconds())

    # -- writing -------------------------------------------------------------------------

    def append(self, dedupe_key: str, kind: str, data: Record) -> Appended:
        """Durably store one record; returns only after the bytes reach the disk.

        A key already waiting is not written again (the caller answers as before).
        """
        if not dedupe_key or len(dedupe_key) > 255:
            raise ValueError("dedupe_key must be 1..255 characters")
        with self._locked():
            if self._file_stat() != self._stat:
                self._refresh_index()  # another process appended or compacted
            if dedupe_key in self._keys:
                existing = {r["dedupeKey"]: r for r in self.pending()}
                return Appended(existing[dedupe_key], duplicate=True)
            if len(self._keys) >= self.max_records:
                raise SpoolFull(f"the local spool holds {len(self._keys)} records; retry later",
                                headers={"Retry-After": "30"})
            record: Record = {
                "dedupeKey": dedupe_key,
                "kind": kind,
                "spooledAt": time.time(),
                "spooledAtIso": dt.datetime.now(dt.UTC).isoformat(),
                "pid": os.getpid(),
                "data": data,
            }
            line = json.dumps(record, separators=(",", ":"), default=str).encode() + b"\n"
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                self._cut_torn_tail(fd)
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.directory)
            self._keys.add(dedupe_key)
            self._stat = self._file_stat()
            if self._oldest is None:
                self._oldest = record["spooledAt"]
            self._publish_gauges()
        log.info("spool.appended", dedupeKey=dedupe_key, kind=kind, depth=len(self._keys))
        return Appended(record, duplicate=False)

    async def append_async(self, dedupe_key: str, kind: str, data: Record) -> Appended:
        """`append` off the event loop (fsync blocks for milliseconds)."""
        return await asyncio.to_thread(self.append, dedupe_key, kind, data)

    @staticmethod
    def _cut_torn_tail(fd: int) -> None:
        """Drop a partial last line left by a crash, so the next line starts clean."""
        size = os.fstat(fd).st_size
        if size == 0:
            return
        if os.pread(fd, 1, size - 1) == b"\n":
            return
        # Scan back for the last newline; everything after it was never acknowledged.
        pos = size
        chunk = 4096
        while pos > 0:
            start = max(0, pos - chunk)
            buf = os.pread(fd, pos - start, start)
            idx = buf.rfind(b"\n")
            if idx >= 0:
                os.ftruncate(fd, start + idx + 1)
                log.warning("spool.torn_tail_cut", bytes=size - (start + idx + 1))
                return
            pos = start
        os.ftruncate(fd, 0)

    def remove(self, keys: set[str]) -> int:
        """Atomically rewrite the spool without `keys`; records appended meanwhile stay."""
        if not keys:
            return 0
        with self._locked():
            raw = self._read_raw()
            kept = [r for r in _parse(raw) if r["dedupeKey"] not in keys]
            tmp = self.path.with_suffix(".jsonl.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                payload = b"".join(
                    json.dumps(r, separators=(",", ":"), default=str).encode() + b"\n"
                    for r in kept
                )
                os.write(fd, payload)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            _fsync_dir(self.directory)
            self._refresh_index()
            return len(keys)

    def dead_letter(self, record: Record, reason: str) -> None:
        """Set a record aside for a human (it can never be written), then drop it."""
        with self._locked():
            line = json.dumps({**record, "rejectedReason": reason}, default=str).encode() + b"\n"
            fd = os.open(self.dead_letter_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        self.remove({record["dedupeKey"]})
        log.error("spool.dead_letter", dedupeKey=record["dedupeKey"], reason=reason)


# -- database availability -------------------------------------------------------------------


#: errno values that mean "cannot reach the database server" (refused, reset, unreachable,
#: timed out). Any other OSError — "file name too long" from a zone lookup, say — is a bug or
#: bad input, never an outage.
_CONNECTIVITY_ERRNOS = frozenset({
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT, errno.EPIPE,
    errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN, errno.ENOTCONN,
    errno.EADDRNOTAVAIL,
})

#: asyncpg errors raised when the server cannot be reached or dropped the connection.
_ASYNCPG_CONNECTIVITY = frozenset({
    "CannotConnectNowError", "ConnectionDoesNotExistError", "ConnectionFailureError",
    "AdminShutdownError", "CrashShutdownError", "TooManyConnectionsError",
    "ConnectionRejectionError", "PostgresConnectionError", "ClientCannotConnectError",
})


def is_db_unavailable(exc: BaseException) -> bool:
    """Whether an exception means "the database cannot be reached", as opposed to a bug.

    Covers refused/closed connections, connect timeouts and SQLAlchemy's wrappers of them. A
    statement the database refuses (bad data such as a NUL character, a constraint, a syntax
    error) is not an outage: callers turn outages into spooling or dry runs, so a false positive
    would silently turn a request that should have failed loudly into one that saves nothing.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError | TimeoutError | asyncio.TimeoutError):
            return True
        if isinstance(current, socket.gaierror | socket.herror):
            return True  # the database host name does not resolve (DNS away)
        if isinstance(current, OSError) and current.errno in _CONNECTIVITY_ERRNOS:
            return True
        if isinstance(current, FileNotFoundError) and current.filename is None:
            return True  # connecting to a Unix socket that is gone (the server is stopped)
        name = type(current).__name__
        module = type(current).__module__
        if module.startswith("asyncpg") and name in _ASYNCPG_CONNECTIVITY:
            return True
        if module.startswith("asyncpg") and name == "InterfaceError" \
                and "connection is closed" in str(current):
            return True
        if module.startswith("sqlalchemy") and getattr(current, "connection_invalidated", False):
            return True
        if module.startswith("sqlite3") and "unable to open" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


class DbAvailability:
    """What the process last learned about the database: a cheap breaker for request paths.

    Request handlers call `mark_down` on a connectivity error and `mark_up` on success; while
    down, `recently_down` tells a handler to go straight to the spool instead of waiting on a
    connect timeout. The drain loop probes and flips it back.
    """

    def __init__(self, retry_after_seconds: float = 2.0) -> None:
        self.retry_after_seconds = retry_after_seconds
        self._down_since: float | None = None
        self._last_failure = 0.0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def recently_down(self) -> bool:
        """Down, and the last failure is fresh enough that trying the database is pointless."""
        return self.down and (time.monotonic() - self._last_failure) < self.retry_after_seconds

    def mark_down(self, reason: str = "") -> None:
        self._last_failure = time.monotonic()
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("db.unavailable", reason=reason)

    def mark_up(self) -> None:
        if self._down_since is not None:
            log.info("db.available", downSeconds=round(time.monotonic() - self._down_since, 2))
        self._down_since = None


# -- the drain -------------------------------------------------------------------------------


@dataclass
class DrainStats:
    drained: int = 0
    failed: int = 0
    dead_lettered: int = 0
    db_unavailable: bool = False


class Drainer:
    """Replays spooled records into the database through a sink, then compacts the spool."""

    def __init__(self, spool: Spool, sink: Sink, *, availability: DbAvailability | None = None,
                 batch: int = 200, probe: Callable[[], Awaitable[None]] | None = None) -> None:
        self.spool = spool
        self.sink = sink
        # Asks the database for a sign of life while it is marked down and nothing waits.
        self.probe = probe
        self.availability = availability or DbAvailability()
        self.batch = batch
        self._failures: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def drain_once(self) -> DrainStats:
        """Write every pending record once; stop at the first sign the database is down."""
        stats = DrainStats()
        async with self._lock:
            records = await asyncio.to_thread(self.spool.pending)
            done: set[str] = set()
            for record in records:
                key = record["dedupeKey"]
                try:
                    await self.sink(record)
                except asyncio.CancelledError:
                    raise
                except RetryLater as exc:
                    log.info("spool.record_deferred", dedupeKey=key, reason=str(exc)[:200])
                    continue
                except RecordRejected as exc:
                    await asyncio.to_thread(self.spool.dead_letter, record, str(exc)[:500])
                    stats.dead_lettered += 1
                    continue
                except Exception as exc:
                    if is_db_unavailable(exc):
                        self.availability.mark_down(type(exc).__name__)
                        stats.db_unavailable = True
                        break
                    stats.failed += 1
                    count = self._failures.get(key, 0) + 1
                    self._failures[key] = count
                    log.error("spool.record_failed", dedupeKey=key, attempt=count,
                              errorType=type(exc).__name__, error=str(exc)[:300])
                    if count >= MAX_RECORD_FAILURES:
                        await asyncio.to_thread(self.spool.dead_letter, record,
                                                f"{type(exc).__name__}: {exc}"[:500])
                        self._failures.pop(key, None)
                        stats.dead_lettered += 1
                    continue
                self.availability.mark_up()
                self._failures.pop(key, None)
                done.add(key)
                if len(done) >= self.batch:
                    stats.drained += await asyncio.to_thread(self.spool.remove, done)
                    done = set()
            if done:
                stats.drained += await asyncio.to_thread(self.spool.remove, done)
        if stats.drained:
            log.info("spool.drained", drained=stats.drained, depth=self.spool.depth)
        return stats

    async def run(self, stop: asyncio.Event, interval: float = 1.0,
                  max_backoff: float = 10.0) -> None:
        """Drain whenever records wait, backing off while the database stays down."""
        delay = interval
        while not stop.is_set():
            # Another process on the host may have appended; re-read the index each tick.
            await asyncio.to_thread(self.spool._refresh_index)
            if self.spool.depth:
                try:
                    stats = await self.drain_once()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # never let the loop die; the next tick retries
                    log.error("spool.drain_error", errorType=type(exc).__name__,
                              error=str(exc)[:300])
                    stats = DrainStats(db_unavailable=True)
                delay = min(max_backoff, delay * 2) if stats.db_unavailable else interval
            else:
                delay = interval
                if self.probe is not None and self.availability.down:
                    try:
                        await self.probe()
                        self.availability.mark_up()
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        self.availability.mark_down(type(exc).__name__)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)


@contextlib.asynccontextmanager
async def running_drainer(drainer: Drainer, interval: float = 1.0) -> AsyncIterator[Drainer]:
    """Run `drainer.run` in a task for the duration of the block."""
    stop = asyncio.Event()
    task = asyncio.create_task(drainer.run(stop, interval), name="spool-drainer")
    try:
        yield drainer
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=10)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
