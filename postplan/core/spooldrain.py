"""Draining the spool: replay each record into the database once it answers, then compact.

Also the cheap "is the database down?" state request paths share (`DbAvailability`); which
exceptions mean "unreachable" is `core.db.is_db_unavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from postplan.core.db import is_db_unavailable
from postplan.core.logging import get_logger
from postplan.core.spoolfile import Record

log = get_logger(__name__)

#: Writes one record into the database; raises when the database is unavailable.
Sink = Callable[[Record], Awaitable[None]]

#: Consecutive non-connectivity failures after which a record is set aside (dead letter).
MAX_RECORD_FAILURES = 5


class DrainedSpool(Protocol):
    """What the drain needs of a spool (`core.spool.Spool`)."""

    @property
    def depth(self) -> int:
        """Records waiting."""
        ...

    def pending(self) -> list[Record]:
        """The waiting records, oldest first."""
        ...

    def remove(self, keys: set[str]) -> int:
        """Forget the records with these dedupe keys; how many went."""
        ...

    def dead_letter(self, record: Record, reason: str) -> None:
        """Set a record aside for a human."""
        ...

    def refresh(self) -> None:
        """See what another process appended."""
        ...


class RecordRejected(Exception):
    """Raised by a sink: this record can never be written (set it aside for a human)."""


class RetryLater(Exception):
    """Raised by a sink: not now (e.g. a concurrent request holds the same key); no penalty."""


# -- database availability -------------------------------------------------------------------


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

    def __init__(self, spool: DrainedSpool, sink: Sink, *,
                 availability: DbAvailability | None = None, batch: int = 200,
                 probe: Callable[[], Awaitable[None]] | None = None) -> None:
        self.spool = spool
        self.sink = sink
        # Asks the database for a sign of life while it is marked down and nothing waits.
        self.probe = probe
        self.availability = availability or DbAvailability()
        self.batch = batch
        self._failures: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def _set_aside(self, record: Record, reason: str) -> bool:
        """Dead-letter a record; on a full disk it stays in the spool and is retried later."""
        try:
            await asyncio.to_thread(self.spool.dead_letter, record, reason)
        except OSError as exc:
            log.error("spool.dead_letter_failed", dedupeKey=record["dedupeKey"],
                      errorType=type(exc).__name__, errno=exc.errno)
            return False
        return True

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
                    if await self._set_aside(record, str(exc)[:500]):
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
                    if count >= MAX_RECORD_FAILURES and await self._set_aside(
                            record, f"{type(exc).__name__}: {exc}"[:500]):
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
            # Another process on the host may have appended (re-read only when the file changed).
            await asyncio.to_thread(self.spool.refresh)
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
