"""Where a stream reads a run from: this process's log of it, or one shared database tail.

Every stream of a run goes through `RunTails.events`. A run executing in this process is read
from its `LiveRun` in memory. A stream of a run another process executes (or one whose process
died) must learn of new entries from the database. Instead of each stream polling on its own
(100 streams on one run were ~1,500 transactions a second), the first stream starts a
`RunTail`: one task that polls the run row, reads new entries only when the row's count moved,
and publishes them to a shared `RunLog` that every stream reads. The tail stops when its last
stream leaves or the run settles.

Each poll is one narrow read of the run row; entries are read only when there are new ones. The
interval starts at `tail_poll_seconds` and backs off (doubling) to `tail_poll_max_seconds` while
the run shows no progress. While it has streams and the run is running, the tail also writes
the run's `listened_at` every third of `abandon_seconds`, so the executing process does not
cancel the run as abandoned while someone here still listens.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing

from postplan.calendars.runs.eventlog import RunLog
from postplan.calendars.runs.events import RunEvent, entry_event, run_event, terminal_events
from postplan.calendars.runs.limits import RunLimits
from postplan.calendars.runs.mapping import RunRef
from postplan.calendars.runs.states import RunStatus
from postplan.calendars.runs.store import RunStore
from postplan.core.logging import get_logger

log = get_logger(__name__)

#: Finds the log of a run executing in this process (None when it executes elsewhere).
LocalRuns = Callable[[uuid.UUID], RunLog | None]


def _no_local_runs(_run_id: uuid.UUID) -> RunLog | None:
    return None


class RunTail:
    """The shared tail of one run: a polling task writing a `RunLog`."""

    def __init__(self, store: RunStore, user_id: str, run_id: uuid.UUID, limits: RunLimits,
                 tails: RunTails) -> None:
        self.store = store
        self.user_id = user_id
        self.run_id = run_id
        self.limits = limits
        self._tails = tails
        self.log = RunLog(on_idle=self.stop)
        self.polls = 0
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"run-tail-{self.run_id}")

    def stop(self) -> None:
        """The last stream left: stop polling and forget the tail."""
        self._tails.forget(self)
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def _run(self) -> None:
        try:
            await self._poll_until_settled()
        finally:
            self._tails.forget(self)

    async def _poll_until_settled(self) -> None:
        limits = self.limits
        interval = limits.tail_poll_seconds
        mark_every = limits.abandon_seconds / 3
        next_mark = 0.0
        while True:
            try:
                progressed = await self._poll_once()
                if self.log.final is not None:
                    return
                now = time.monotonic()
                if now >= next_mark:
                    await self.store.mark_listened(self.run_id)
                    next_mark = now + mark_every
            except Exception as exc:  # the database may be away: keep the streams, try again
                log.warning("generation.tail.poll_failed", errorType=type(exc).__name__,
                            runId=str(self.run_id))
                progressed = False
                interval = limits.tail_poll_max_seconds
            if progressed:
                interval = limits.tail_poll_seconds
            else:
                interval = min(interval * 2, limits.tail_poll_max_seconds)
            if self.log.listeners == 0:
                return  # every stream left (or none ever started reading)
            wait = min(interval, max(next_mark - time.monotonic(), 0.0))
            await asyncio.sleep(wait)

    async def _poll_once(self) -> bool:
        """One read of the run row, plus its new entries when there are some."""
        self.polls += 1
        run = await self.store.poll_run(self.user_id, self.run_id)
        if run is None:  # deleted meanwhile
            self.log.finish(None, [RunEvent("error", {"code": "run_not_found",
                                                      "message": "run not found"})])
            return True
        # The row is read before the entries: once it says the run settled, every entry is
        # already visible; while it runs, its count moves in the commit that saves entries.
        settled = run.status != RunStatus.running.value
        progressed = False
        if settled or run.entry_count > self.log.last_seq:
            rows = await self.store.entries_after(self.run_id, self.user_id, self.log.last_seq)
            if rows:
                self.log.publish([entry_event(self.run_id, row) for row in rows])
                progressed = True
        if settled:
            self.log.finish(run.status, terminal_events(self.run_id, run.status,
                                                        run.entry_count, run.error))
            return True
        return progressed


class RunTails:
    """Where this process's streams read runs from: the log of a run executing here, or the
    shared tail of one executing elsewhere (one per run at most)."""

    def __init__(self, store: RunStore, limits: RunLimits,
                 local: LocalRuns | None = None) -> None:
        self.store = store
        self.limits = limits
        #: The log of a run this process executes (the registry's), or None.
        self.local: LocalRuns = local or _no_local_runs
        self._tails: dict[uuid.UUID, RunTail] = {}

    def __len__(self) -> int:
        return len(self._tails)

    def get(self, run_id: uuid.UUID) -> RunTail | None:
        return self._tails.get(run_id)

    def forget(self, tail: RunTail) -> None:
        if self._tails.get(tail.run_id) is tail:
            del self._tails[tail.run_id]

    async def from_start(self, ref: RunRef, *,
                         live: RunLog | None = None) -> AsyncGenerator[RunEvent, None]:
        """A run's whole stream: `run`, every entry, then the final events.

        Pass `live` when the caller holds it: a quick run may finish (and leave the registry)
        before the response starts iterating."""
        yield run_event(ref)
        source = self.events(ref.user_id, ref.run_id, 0, live=live)
        async with aclosing(source):
            async for event in source:
                yield event

    async def events(self, user_id: str, run_id: uuid.UUID, after_seq: int, *,
                     live: RunLog | None = None) -> AsyncGenerator[RunEvent, None]:
        """Replay a run's saved entries after `after_seq`, tail it while it runs, then `done`.

        A run executing here is read from memory; one executing elsewhere (or whose process died)
        from the one database tail this process keeps for it, shared by all its streams. Never
        generates anything. The caller has checked that the run belongs to `user_id`."""
        live = live or self.local(run_id)
        source = live.events(after_seq) if live is not None else self._shared(
            user_id, run_id, after_seq)
        # Closed explicitly, however this stream ends: the log counts its readers (abandonment,
        # and a tail stops with its last reader), so a reader must not linger until collected.
        async with aclosing(source):
            async for event in source:
                yield event

    async def _shared(self, user_id: str, run_id: uuid.UUID,
                      after_seq: int) -> AsyncGenerator[RunEvent, None]:
        """The run's entries after `after_seq` and its final events, from the shared tail."""
        tail = self._tails.get(run_id)
        if tail is None or tail.user_id != user_id:
            tail = RunTail(self.store, user_id, run_id, self.limits, self)
            self._tails[run_id] = tail
            tail.start()
        # Reading attaches to the log before the tail's task first runs (no await between).
        async for event in tail.log.events(after_seq):
            yield event

    async def shutdown(self) -> None:
        """Stop every tail (the process is stopping)."""
        tasks = [t.task for t in list(self._tails.values()) if t.task is not None]
        self._tails.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
