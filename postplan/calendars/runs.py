"""Generation runs owned by the app, not by the HTTP connection that started them.

A run executes in a background task registered here. The SSE response only tails it, so a client
that disconnects loses nothing: the task keeps generating and saving, and the client can resume
(`Last-Event-ID`) here or on any other process. Each entry is committed before it is published to
tailers; the run row is settled (completed, partial, failed, cancelled) before the final events
are published. Streams on other processes share one database tail per run (see `run_tail`).

A run is not generated for nobody, though: once no stream has listened to it, on any process,
for `RUN_ABANDON_SECONDS`, it is stopped (the model call closed, so no more tokens are paid for)
and settled `cancelled` with error code `run_abandoned`; what was saved stays saved. A user may
have at most `MAX_CONCURRENT_RUNS_PER_USER` runs running at once (see `run_limits`).

Final status: `completed` when the generator ran to its end; `partial` when the AI ran out of
time (a `timeout` event; the entries so far are kept); `failed` on a provider or storage error,
even when some entries were already saved (they stay saved, `entryCount` says how many, and the
`error` event carries the code); `cancelled` when the server stopped mid-run (`run_cancelled`)
or nobody listened any more (`run_abandoned`). The sweeper marks
runs whose heartbeat went stale `failed` with code `stale_run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from postplan.calendars.run_events import (
    TIMEOUT_CODE,
    RunEvent,
    entry_event,
    terminal_events,
)
from postplan.calendars.run_limits import RunLimits, StreamSlots, too_many_runs
from postplan.calendars.run_log import RunLog
from postplan.calendars.run_states import RunStatus
from postplan.calendars.run_store import RunLimit, RunRef, RunStore, draft_to_entry
from postplan.calendars.run_tail import RunTails
from postplan.calendars.run_watch import RunAbandoned, wait_abandoned
from postplan.core.context import bind
from postplan.core.errors import AppError
from postplan.core.logging import get_logger
from postplan.core.metrics import GENERATION_ENTRIES
from postplan.generation.base import GenerationError, GenerationTimeout, Generator
from postplan.generation.planner import warm_up
from postplan.generation.schemas import Brief, EntryDraft
from postplan.models import CalendarEntry

log = get_logger(__name__)

#: A running run writes a heartbeat at least this often…
HEARTBEAT_SECONDS = 10.0
#: …and the sweeper settles one whose heartbeat is older than this.
STALE_AFTER = dt.timedelta(minutes=2)
SWEEP_INTERVAL_SECONDS = 30.0
#: On shutdown, runs get this long to finish before they are cancelled.
SHUTDOWN_GRACE_SECONDS = 2.0
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
        else:
            rows = await self.store.save_entries(ref, drafts, first)
        self.count += len(rows)
        GENERATION_ENTRIES.labels(mode=ref.mode).inc(len(rows))
        return [entry_event(ref.run_id, row) for row in rows]

    async def run(self) -> str:
        """Generate to the end; always settles the run and publishes the final events."""
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
        """Put `RunAbandoned` on the queue once nobody listens any more (see `run_watch`)."""
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


class RunRegistry:
    """The runs this process is executing, and the tasks that execute them."""

    def __init__(self, store: RunStore, *, heartbeat_seconds: float = HEARTBEAT_SECONDS,
                 stale_after: dt.timedelta = STALE_AFTER,
                 limits: RunLimits | None = None) -> None:
        self.store = store
        self.heartbeat_seconds = heartbeat_seconds
        self.stale_after = stale_after
        self.limits = limits = limits or RunLimits()
        #: Open event streams here, per user and per run.
        self.slots = StreamSlots(limits.max_streams_per_run, limits.max_streams_per_user)
        #: The shared database tails of runs executing elsewhere.
        self.tails = RunTails(store, limits)
        self._runs: dict[uuid.UUID, LiveRun] = {}
        self._tasks: set[asyncio.Task[str]] = set()

    def get(self, run_id: uuid.UUID) -> LiveRun | None:
        return self._runs.get(run_id)

    async def begin(self, user_id: str, brief: Brief, generator: Generator,
                    model: str | None = None) -> LiveRun:
        """Commit the run row, then start generating in the background.

        The offline planner writes its first entry in about a millisecond, so it is taken
        first and committed with the run row; a model's first entry can take seconds, so an
        `ai` run commits the row alone and streams `run` at once."""
        drafts: AsyncIterator[EntryDraft] | None = None
        first: EntryDraft | None = None
        if generator.mode == "planner":
            drafts = aiter(generator.stream(brief))
            try:
                first = await anext(drafts, None)
            except Exception:  # let the executor meet (and report) the failure
                drafts, first = None, None
        limit = RunLimit(self.limits.max_runs_per_user, self.stale_after)
        ref, rows = await self.store.create(user_id, brief, mode=generator.mode,
                                            expected_entries=generator.expected_entries(brief),
                                            model=model, first=first, limit=limit)
        return self.start(ref, brief, generator, persist=True, drafts=drafts, saved=rows)

    def begin_dry_run(self, user_id: str, brief: Brief, generator: Generator) -> LiveRun:
        """Generate without writing anything (the database is unreachable).

        The per-user bound on running runs is then counted in this process only."""
        limit = self.limits.max_runs_per_user
        if sum(1 for r in self._runs.values() if r.ref.user_id == user_id) >= limit:
            raise too_many_runs(limit)
        ref = RunRef(uuid.uuid4(), brief.calendar_id or uuid.uuid4(), user_id, generator.mode,
                     True, generator.expected_entries(brief))
        return self.start(ref, brief, generator, persist=False)

    def start(self, ref: RunRef, brief: Brief, generator: Generator, *, persist: bool,
              drafts: AsyncIterator[EntryDraft] | None = None,
              saved: list[CalendarEntry] | None = None) -> LiveRun:
        live = LiveRun(ref)
        if saved:
            live.publish([entry_event(ref.run_id, row) for row in saved])
            GENERATION_ENTRIES.labels(mode=ref.mode).inc(len(saved))
        executor = RunExecutor(self.store if persist else None, live, brief, generator,
                               self.heartbeat_seconds, drafts,
                               abandon_seconds=self.limits.abandon_seconds)
        self._runs[ref.run_id] = live
        task = asyncio.create_task(executor.run(), name=f"generation-run-{ref.run_id}")
        self._tasks.add(task)

        def _done(t: asyncio.Task[str]) -> None:
            self._tasks.discard(t)
            self._runs.pop(ref.run_id, None)

        task.add_done_callback(_done)
        return live

    async def wait_idle(self, limit: float | None = None) -> bool:
        """Wait up to `limit` seconds until no run is executing here (shutdown, the CLI)."""
        if not self._tasks:
            return True
        _done, pending = await asyncio.wait(set(self._tasks), timeout=limit)
        return not pending

    async def sweep(self) -> list[uuid.UUID]:
        """Settle stale runs (never one this process is executing)."""
        ids = await self.store.sweep(self.stale_after, exclude=set(self._runs))
        if ids:
            log.warning("generation.sweeper.settled", count=len(ids),
                        runIds=[str(i) for i in ids])
        return ids

    async def sweep_forever(self, interval: float = SWEEP_INTERVAL_SECONDS) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception as exc:  # the database may be away; try again next time
                log.warning("generation.sweeper.failed", errorType=type(exc).__name__)

    async def shutdown(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Let runs finish for `grace` seconds, then cancel them (they settle as cancelled)."""
        await self.tails.shutdown()
        if not self._tasks:
            return
        if await self.wait_idle(grace):
            return
        for task in list(self._tasks):
            task.cancel()
        await asyncio.wait(set(self._tasks), timeout=5)


def generation_lifespan(app: FastAPI) -> AbstractAsyncContextManager[None]:
    """Lifespan hook: the run registry, a sweep at start, and the periodic sweeper."""

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        registry = RunRegistry(RunStore(app.state.sessionmaker,
                                        max_entries=app.state.settings.max_entries_per_calendar),
                               limits=RunLimits.from_settings(app.state.settings))
        app.state.generation = registry
        warm_up()  # the planner's data and holiday tables, so no request pays for them
        try:
            await registry.sweep()
        except Exception as exc:
            log.warning("generation.sweeper.failed", errorType=type(exc).__name__)
        sweeper = asyncio.create_task(registry.sweep_forever(), name="generation-sweeper")
        try:
            yield
        finally:
            sweeper.cancel()
            await registry.shutdown()
            await registry.store.close()

    return lifespan()


def app_runs(request: Request) -> RunRegistry:
    """The app's run registry (installed by `generation_lifespan`)."""
    registry: RunRegistry = request.app.state.generation
    return registry


#: The run registry as a handler parameter.
Runs = Annotated[RunRegistry, Depends(app_runs)]
