"""One generation run: drafts from the generator → saved entries → published events.

The executor runs in a background task the registry owns, not in the HTTP connection that
started the run: each entry is committed before it is published to the run's `LiveRun` (the
streams read that), and the run row is settled before the final events are published.

A run is not generated for nobody, though: once no stream has listened to it, on any process,
for `RUN_ABANDON_SECONDS`, it is stopped (the model call closed, so no more tokens are paid for)
and settled `cancelled` with error code `run_abandoned`; what was saved stays saved (see
`watch`).

Final status: `completed` when the generator ran to its end; `partial` when the AI ran out of
time (a `timeout` event; the entries so far are kept); `failed` on a provider or storage error,
even when some entries were already saved (they stay saved, `entryCount` says how many, and the
`error` event carries the code); `cancelled` when the server stopped mid-run (`run_cancelled`)
or nobody listened any more (`run_abandoned`). The sweeper (see `registry`) marks
runs whose heartbeat went stale `failed` with code `stale_run`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from postplan.calendars.runs.eventlog import RunLog
from postplan.calendars.runs.events import TIMEOUT_CODE, RunEvent, entry_event, terminal_events
from postplan.calendars.runs.limits import RunLimits
from postplan.calendars.runs.mapping import RunRef, draft_to_entry
from postplan.calendars.runs.replacing import replace_entries
from postplan.calendars.runs.states import RunStatus
from postplan.calendars.runs.store import RunStore
from postplan.calendars.runs.watch import RunAbandoned, wait_abandoned
from postplan.core.context import bind
from postplan.core.errors import AppError
from postplan.core.logging import get_logger
from postplan.core.metrics import GENERATION_ENTRIES
from postplan.core.tracing import span
from postplan.generation.base import GenerationError, GenerationTimeout, Generator
from postplan.generation.schemas import Brief, EntryDraft

log = get_logger(__name__)

#: A running run writes a heartbeat at least this often (the sweeper settles stale ones).
HEARTBEAT_SECONDS = 10.0
#: How long, at most, a stopped run waits for its model call to close.
PRODUCER_CLOSE_SECONDS = 5.0
ABANDONED_CODE = "run_abandoned"


class LiveRun(RunLog):
    """The in-process view of a running run: its events so far and a wake-up for its streams."""

    def __init__(self, ref: RunRef) -> None:
        super().__init__()
        self.ref = ref


_END = object()


async def _produce(drafts: AsyncIterator[EntryDraft], queue: asyncio.Queue[object],
                   first_sent: asyncio.Event) -> None:
    try:
        async for draft in drafts:
            queue.put_nowait(draft)
            if not first_sent.is_set():
                # The first entry is saved and published before more CPU goes to the next
                # ones (time to first entry); after that, production and saving interleave
                # and the consumer commits whatever has piled up in one go.
                await first_sent.wait()
            await asyncio.sleep(0)
        queue.put_nowait(_END)
    except Exception as exc:  # handed to the consumer, which settles the run
        queue.put_nowait(exc)
    finally:
        # Cancelled between two drafts (the run stopped), the generator sits at a `yield`
        # with its model call open: close it now rather than whenever it is collected.
        aclose = getattr(drafts, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):  # the run is settled either way
                await aclose()


class RunExecutor:
    """Runs one generation: drafts from the generator → saved entries → published events."""

    def __init__(self, store: RunStore | None, live: LiveRun, brief: Brief,
                 generator: Generator, heartbeat_seconds: float = HEARTBEAT_SECONDS,
                 drafts: AsyncIterator[EntryDraft] | None = None,
                 abandon_seconds: float = RunLimits.abandon_seconds) -> None:
        self.store = store  # None: a dry run, nothing is written
        self.live = live
        self.brief = brief
        self.generator = generator
        self.heartbeat_seconds = heartbeat_seconds
        self.abandon_seconds = abandon_seconds
        # A stream already started by `RunRegistry.begin` (its first entry is saved).
        self.drafts = drafts
        self.count = len(live.entries)

    async def _save(self, drafts: list[EntryDraft]) -> list[RunEvent]:
        ref = self.live.ref
        first = self.count + 1
        if self.store is None:
            rows = [draft_to_entry(ref, d, first + i) for i, d in enumerate(drafts)]
        elif ref.replaces:  # a regeneration: the drafts rewrite existing entries
            rows = await replace_entries(self.store, ref, drafts, first)
        else:
            rows = await self.store.save_entries(ref, drafts, first)
        self.count += len(rows)
        GENERATION_ENTRIES.labels(mode=ref.mode).inc(len(rows))
        return [entry_event(ref.run_id, row) for row in rows]

    async def run(self) -> str:
        """Generate to the end; always settles the run and publishes the final events."""
        ref = self.live.ref
        with span("calendar.run", **{"postplan.run_id": str(ref.run_id),
                                     "postplan.mode": ref.mode}) as current:
            status = await self._run()
            current.set_attribute("postplan.status", status)
            return status

    async def _run(self) -> str:
        ref = self.live.ref
        bind(runId=str(ref.run_id), calendarId=str(ref.calendar_id), userId=ref.user_id)
        queue: asyncio.Queue[object] = asyncio.Queue()
        first_sent = asyncio.Event()
        if self.count:
            first_sent.set()
        source = self.drafts if self.drafts is not None else self.generator.stream(self.brief)
        producer = asyncio.create_task(_produce(source, queue, first_sent))
        watchdog = asyncio.create_task(self._watch_listeners(queue))
        status = RunStatus.completed
        error: dict[str, Any] | None = None
        started = asyncio.get_running_loop().time()
        log.info("generation.run.started", mode=ref.mode, expected=ref.expected_entries,
                 dryRun=ref.dry_run)
        try:
            while True:
                try:
                    async with asyncio.timeout(self.heartbeat_seconds):
                        item = await queue.get()
                except TimeoutError:
                    if self.store is not None:
                        await self.store.heartbeat(ref.run_id)
                    continue
                # Whatever is already waiting is saved in the same commit (the planner
                # produces faster than a commit; the AI path gets one entry per commit).
                batch = [item]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                drafts = [b for b in batch if isinstance(b, EntryDraft)]
                end = next((b for b in batch if not isinstance(b, EntryDraft)), None)
                if drafts:
                    self.live.publish(await self._save(drafts))
                    first_sent.set()
                if end is None:
                    continue
                if isinstance(end, RunAbandoned):
                    status = RunStatus.cancelled
                    error = {"code": ABANDONED_CODE,
                             "message": f"nobody listened to the run for {end.seconds:g} s, so "
                                        "it was stopped; the entries made so far are kept"}
                    log.info("generation.run.abandoned", entries=self.count)
                elif isinstance(end, GenerationTimeout):
                    status = RunStatus.partial
                    error = {"code": TIMEOUT_CODE, "message": end.message}
                elif isinstance(end, GenerationError):
                    status = RunStatus.failed
                    error = {"code": end.code, "message": end.message}
                elif isinstance(end, Exception):
                    log.error("generation.run.generator_crashed", errorType=type(end).__name__,
                              exc_info=end)
                    status = RunStatus.failed
                    error = {"code": "generation_failed",
                             "message": "generation failed unexpectedly"}
                break
        except asyncio.CancelledError:
            status = RunStatus.cancelled
            error = {"code": "run_cancelled",
                     "message": "the server stopped before the run finished"}
            await self._settle(status, error, started)
            raise
        except AppError as exc:  # a limit hit mid-run (calendar_too_large); saved entries stay
            status = RunStatus.failed
            error = {"code": exc.code, "message": exc.detail}
        except Exception as exc:  # storage failed: the run cannot go on
            log.error("generation.run.storage_failed", errorType=type(exc).__name__,
                      exc_info=exc)
            status = RunStatus.failed
            error = {"code": "storage_failed", "message": "saving the calendar failed"}
        finally:
            watchdog.cancel()
            await self._close_producer(producer)
        await self._settle(status, error, started)
        return status.value

    @staticmethod
    async def _close_producer(producer: asyncio.Task[None]) -> None:
        """Stop the generator and wait (bounded) until it has let go of the model call.

        Cancelling the producer unwinds the provider's stream, which closes its HTTP response
        and client: no more tokens are generated or paid for once the run has ended."""
        if producer.done():
            return
        producer.cancel()
        await asyncio.wait({producer}, timeout=PRODUCER_CLOSE_SECONDS)

    async def _watch_listeners(self, queue: asyncio.Queue[object]) -> None:
        """Put `RunAbandoned` on the queue once nobody listens any more (see `watch`)."""
        store = self.store
        marks = None if store is None else store.listened_at
        await wait_abandoned(self.live, self.live.ref.run_id, self.abandon_seconds, marks)
        queue.put_nowait(RunAbandoned(self.abandon_seconds))

    async def _settle(self, status: RunStatus, error: dict[str, Any] | None,
                      started: float) -> None:
        ref = self.live.ref
        if self.store is not None:
            try:
                await self.store.finish(ref.run_id, status, self.count, error)
            except Exception as exc:  # the sweeper settles it later
                log.error("generation.run.settle_failed", errorType=type(exc).__name__,
                          exc_info=exc)
        bind(status=status.value)
        log.info("generation.run.finished", entries=self.count, mode=ref.mode,
                 errorCode=(error or {}).get("code"),
                 durationMs=round((asyncio.get_running_loop().time() - started) * 1000, 1))
        self.live.finish(status.value,
                         terminal_events(ref.run_id, status.value, self.count, error))
