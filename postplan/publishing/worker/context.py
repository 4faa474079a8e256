"""What the worker hands each job: its settings and the resources a job really uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.config import Settings
from postplan.core.flags import FlagService
from postplan.publishing.connections.credentials import CredentialStore
from postplan.publishing.gateway import ChannelGateway
from postplan.publishing.worker.limiter import AccountLimiter


@dataclass
class WorkerConfig:
    """Timings and bounds; the defaults suit the real platforms, tests shrink them."""

    concurrency: int = 32
    batch: int = 64
    lease: timedelta = timedelta(seconds=60)
    idle_sleep: float = 0.5
    max_attempts: int = 8
    retry_base: float = 2.0
    retry_cap: float = 900.0
    poll_delays: tuple[float, ...] = (3.0, 5.0, 10.0, 15.0, 30.0, 60.0)
    poll_deadline: timedelta = timedelta(hours=24)
    #: Seconds a job may keep its claim to poll again itself before handing the intent back.
    inline_poll_budget: float = 10.0
    reconcile_delays: tuple[float, ...] = (5.0, 30.0, 120.0, 600.0, 1800.0)
    #: How long after an unanswered irreversible call (a dropped connection, a worker gone
    #: mid-call) a "not published" reconcile waits before sending again, since that call could
    #: still land; None: twice the lease. A call the platform answered (a 5xx) has ended, so
    #: its "not published" is acted on at once.
    resend_guard: timedelta | None = None
    flag_off_delay: float = 30.0
    rate_limits: dict[str, tuple[int, float]] | None = None
    extra: dict[str, object] = field(default_factory=dict)


def reconcile_schedule(first: float) -> tuple[float, ...]:
    """The reconcile looks after an ambiguous answer: `first` (RECONCILE_FIRST_SECONDS), then
    backing off to half an hour; a human is asked once they are used up."""
    return (first, max(first * 4, 30.0), 120.0, 600.0, 1800.0)


@dataclass(frozen=True)
class JobContext:
    """Everything one job may touch, shared by every job of one worker.

    `engine` carries the fenced writes and the job's reads; `credentials` and `limiter` are
    per worker (the refresh locks and per-account pacing must be shared by its jobs);
    `settings` says which channels have app credentials; `flags` can switch publishing off
    after an intent was queued; `clock` is the worker's (tests move it).
    """

    engine: AsyncEngine
    settings: Settings
    flags: FlagService
    gateway: ChannelGateway
    credentials: CredentialStore
    limiter: AccountLimiter
    config: WorkerConfig
    clock: Callable[[], datetime]
