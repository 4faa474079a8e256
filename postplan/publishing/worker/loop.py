"""The publish worker: claims due intents and drives each through its adapter, at most once.

Loop: claim a batch (SKIP LOCKED / BEGIN IMMEDIATE, lease + fencing token) → one task per intent,
bounded by `concurrency`, one in flight per account → each task runs `dispatch.run_job` with the
worker's `JobContext`. Intents whose lease expired mid-call come back as `unknown` and are
reconciled, never resent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.config import Settings
from postplan.core.db import create_engine, utcnow
from postplan.core.flags import FlagService
from postplan.core.logging import get_logger
from postplan.core.tracing import span
from postplan.publishing.connections.credentials import CredentialStore
from postplan.publishing.gateway import ChannelGateway
from postplan.publishing.worker.claims import Claimed, claim_due
from postplan.publishing.worker.context import JobContext, WorkerConfig
from postplan.publishing.worker.dispatch import run_job
from postplan.publishing.worker.limiter import DEFAULT_LIMITS, AccountLimiter

log = get_logger(__name__)

#: Seconds a free worker slot may wait for the next claim while other jobs are running.
CLAIM_AT_LEAST_EVERY = 0.25


def worker_engine(settings: Settings, concurrency: int) -> AsyncEngine:
    """The worker's own database pool.

    No pre-ping (three round trips per checkout; a job that meets a dead connection after a
    database restart fails that step safely and SQLAlchemy renews the whole pool). A fixed
    pool of min(DATABASE_POOL_SIZE, concurrency) with no overflow: an overflow connection is
    opened and closed around every checkout, and under a burst that connect churn cost more
    CPU than the posts themselves; jobs hold a connection only for one statement or two, so
    waiting for a pooled one is short. No job holds one connection while asking for another
    (see `CredentialStore.get`), so a full pool cannot wait on itself.
    """
    return create_engine(settings.database_url, pool_size=min(settings.database_pool_size,
                                                               concurrency),
                         max_overflow=0, pre_ping=False,
                         disable_statement_cache=settings.database_disable_statement_cache)


class Worker:
    """Runs publish jobs; any number of workers (in any processes) may share one database."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        flags: FlagService,
        gateway: ChannelGateway,
        *,
        config: WorkerConfig | None = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.flags = flags
        self.gateway = gateway
        self.config = config or WorkerConfig(idle_sleep=settings.worker_poll_seconds)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.clock = clock
        self.credentials = CredentialStore(engine, settings)
        limits = self.config.rate_limits
        if limits is None:
            # The slot is taken before the call reaches the platform: hold it a margin longer.
            span = settings.pacing_window_seconds + settings.pacing_margin_seconds
            limits = {channel: (calls, span) for channel, (calls, _) in DEFAULT_LIMITS.items()}
        # The windows live in the database: every worker process shares one per account.
        self.limiter = AccountLimiter(limits, engine=engine)
        #: What each job is given (the worker itself is not).
        self.context = JobContext(engine=engine, settings=settings, flags=flags,
                                  gateway=gateway, credentials=self.credentials,
                                  limiter=self.limiter, config=self.config, clock=clock)
        self._tasks: set[asyncio.Task[None]] = set()

    async def claim(self, limit: int) -> list[Claimed]:
        """Claim up to `limit` due intents."""
        return await claim_due(self.engine, worker_id=self.worker_id, limit=limit,
                               now=self.clock(), lease=self.config.lease)

    async def process(self, claimed: Claimed) -> None:
        """Drive one claimed intent one step further (never raises)."""
        row = claimed.row
        with span("publish.job", **{"postplan.intent_id": str(row.id),
                                    "postplan.channel": row.channel,
                                    "postplan.status_before": claimed.previous}):
            await run_job(self.context, claimed)

    async def run_once(self) -> int:
        """Claim one batch and process it to completion; the number of intents claimed."""
        batch = await self.claim(min(self.config.batch, self.config.concurrency))
        if batch:
            await asyncio.gather(*(self.process(c) for c in batch))
        return len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and process until `stop` is set; in-flight jobs finish before returning.

        The flags are re-read while it runs (a no-op when the app's lifespan already does), so a
        rollback of PUBLISH_SERVICE_ENABLED reaches this worker within FLAGS_POLL_SECONDS."""
        async with self.flags.watch():
            await self._run(stop)

    async def _run(self, stop: asyncio.Event) -> None:
        log.info("worker.started", workerId=self.worker_id,
                 concurrency=self.config.concurrency)
        stop_wait = asyncio.ensure_future(stop.wait())
        try:
            # Under load, claim once a few slots are free rather than on every finished job
            # (one claim statement per batch instead of one per post), but never leave a free
            # slot unclaimed for longer than CLAIM_AT_LEAST_EVERY.
            enough = max(1, self.config.concurrency // 8)
            loop = asyncio.get_running_loop()
            last_claim = 0.0
            while not stop.is_set():
                free = self.config.concurrency - len(self._tasks)
                claimed: list[Claimed] = []
                if free >= enough or (free > 0 and (
                        not self._tasks or loop.time() - last_claim >= CLAIM_AT_LEAST_EVERY)):
                    last_claim = loop.time()
                    try:
                        claimed = await self.claim(min(free, self.config.batch))
                    except Exception:
                        log.exception("worker.claim_failed")
                        claimed = []
                for c in claimed:
                    task = asyncio.create_task(self.process(c))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                if claimed and len(self._tasks) < self.config.concurrency:
                    continue  # more may be due right now
                await asyncio.wait({stop_wait, *self._tasks}, timeout=self.config.idle_sleep,
                                   return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_wait.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=self.config.lease.total_seconds())
            log.info("worker.stopped", workerId=self.worker_id)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Worker]:
        """Run the loop in the background for the duration of the block."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop))
        try:
            yield self
        finally:
            stop.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=15)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
