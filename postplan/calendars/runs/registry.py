"""Generation runs owned by the app, not by the HTTP connection that started them.

A run executes in a background task registered here (see `executor`). The SSE response only
tails it, so a client that disconnects loses nothing: the task keeps generating and saving, and
the client can resume (`Last-Event-ID`) here or on any other process. Streams on other
processes share one database tail per run (see `tail`). A user may have at most
`MAX_CONCURRENT_RUNS_PER_USER` runs running at once (see `limits`). The sweeper settles runs
whose heartbeat went stale (their process died) `failed` with code `stale_run`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from postplan.calendars.runs.events import entry_event
from postplan.calendars.runs.executor import HEARTBEAT_SECONDS, LiveRun, RunExecutor
from postplan.calendars.runs.limits import RunLimit, RunLimits, StreamSlots, too_many_runs
from postplan.calendars.runs.mapping import RunRef
from postplan.calendars.runs.store import RunStore
from postplan.calendars.runs.tail import RunTails
from postplan.core.logging import get_logger
from postplan.core.metrics import GENERATION_ENTRIES
from postplan.generation.base import Generator
from postplan.generation.planner import plan_notes, warm_up
from postplan.generation.providers.client import close_shared_client
from postplan.generation.schemas import Brief, EntryDraft
from postplan.models import CalendarEntry

log = get_logger(__name__)

#: The sweeper settles a running run whose heartbeat is older than this.
STALE_AFTER = dt.timedelta(minutes=2)
SWEEP_INTERVAL_SECONDS = 30.0
#: On shutdown, runs get this long to finish before they are cancelled.
SHUTDOWN_GRACE_SECONDS = 2.0


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
        #: Where streams read runs from: a run executing here, or a shared database tail.
        self.tails = RunTails(store, limits, self.get)
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
        ref = replace(ref, queued=_would_queue(generator))
        return self.start(ref, brief, generator, persist=True, drafts=drafts, saved=rows)

    def begin_dry_run(self, user_id: str, brief: Brief, generator: Generator) -> LiveRun:
        """Generate without writing anything (the database is unreachable).

        The per-user bound on running runs is then counted in this process only."""
        limit = self.limits.max_runs_per_user
        if sum(1 for r in self._runs.values() if r.ref.user_id == user_id) >= limit:
            raise too_many_runs(limit)
        ref = RunRef(uuid.uuid4(), brief.calendar_id or uuid.uuid4(), user_id, generator.mode,
                     True, generator.expected_entries(brief), queued=_would_queue(generator))
        return self.start(ref, brief, generator, persist=False)

    def start(self, ref: RunRef, brief: Brief, generator: Generator, *, persist: bool,
              drafts: AsyncIterator[EntryDraft] | None = None,
              saved: list[CalendarEntry] | None = None) -> LiveRun:
        ref = replace(ref, plan=plan_notes(brief))
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


def _would_queue(generator: Generator) -> bool:
    """Whether the generator's model call would wait for a slot (model generators only)."""
    check = getattr(generator, "would_queue", None)
    return bool(check()) if callable(check) else False


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
            await close_shared_client()  # the model client, after the runs that used it

    return lifespan()


def app_runs(request: Request) -> RunRegistry:
    """The app's run registry (installed by `generation_lifespan`)."""
    registry: RunRegistry = request.app.state.generation
    return registry


#: The run registry as a handler parameter.
Runs = Annotated[RunRegistry, Depends(app_runs)]
