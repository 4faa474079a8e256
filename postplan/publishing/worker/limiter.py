"""Per-account pacing in the worker: one call in flight per account (in this process), and a
sliding window of publish calls per (channel, account) that mirrors the platform's limit
(TikTok: 6 video inits a minute per token) — kept in the database, so every worker process of
the cluster shares one window per account.

The window is one `pacing_windows` row per account holding the times of the latest calls (at most
`calls` of them). Taking a slot locks that row (`SELECT … FOR UPDATE` on Postgres; SQLite's single
writer, `BEGIN IMMEDIATE`, gives the same order), drops times older than the window, and appends
now when there is room; otherwise the answer is how long until the oldest call leaves the window.
A worker never idles while there is room: it asks again exactly when a slot frees up.

This is the one limiter for the irreversible call: the worker's adapters do not keep their
per-process ledger (`gateway_scope(..., paced=True)`), which would count per process only.
Times are the worker's wall clock (hosts are expected to run NTP; a skew of a second only makes
pacing that much more cautious on one side).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.core.db import utcnow, writer
from postplan.core.ratelimit import RateLedger
from postplan.models import PacingWindow
from postplan.publishing.dbutil import insert_ignore

#: channel → (calls, window seconds) for the irreversible call. TikTok: 6 inits/min per token;
#: Instagram: 25 media_publish a minute keeps a burst well inside the 100-per-24 h quota the
#: platform reports (the adapter checks that quota itself before publishing).
DEFAULT_LIMITS: dict[str, tuple[int, float]] = {"tiktok": (6, 60.0), "instagram": (25, 60.0)}

#: Never ask to come back sooner than this: a slot that frees "now" is taken on the next pass.
MIN_WAIT = 0.01


class AccountLimiter:
    """Serialises work per account and spaces publish calls within each account's budget;
    with an engine the windows are shared by every process on that database."""

    def __init__(self, limits: dict[str, tuple[int, float]] | None = None,
                 clock: Callable[[], float] = time.monotonic, *,
                 engine: AsyncEngine | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._windows = RateLedger(clock)  # without an engine: one process's windows
        self._engine = engine
        self._wall = wall_clock

    @asynccontextmanager
    async def account(self, channel: str, account: str) -> AsyncIterator[None]:
        """Hold the account for one job (one call in flight per account in this process)."""
        lock = self._locks.setdefault((channel, account), asyncio.Lock())
        async with lock:
            yield

    async def reserve(self, channel: str, account: str) -> float:
        """Take a publish slot: 0.0 when granted, else seconds until one frees up."""
        limit = self.limits.get(channel)
        if limit is None:
            return 0.0
        calls, window = limit
        if self._engine is None:
            wait = self._windows.acquire(account, channel, calls, window)
        else:
            wait = await self._reserve_shared(channel, account, calls, window)
        return max(MIN_WAIT, wait) if wait else 0.0

    async def _reserve_shared(self, channel: str, account: str, calls: int,
                              window: float) -> float:
        assert self._engine is not None
        key = account[:64]
        table = PacingWindow.__table__
        async with writer(self._engine).begin() as conn:
            await conn.execute(insert_ignore(table, conn.dialect.name).values(  # type: ignore[arg-type]
                channel=channel, account=key, calls=[], updated_at=utcnow()))
            row: list[Any] = (await conn.execute(
                select(PacingWindow.calls)
                .where(PacingWindow.channel == channel, PacingWindow.account == key)
                .with_for_update())).scalar_one()
            now = self._wall()
            recent = sorted(float(t) for t in row if now - float(t) < window)
            if len(recent) >= calls:
                return recent[-calls] + window - now
            recent.append(now)
            await conn.execute(
                update(PacingWindow)
                .where(PacingWindow.channel == channel, PacingWindow.account == key)
                .values(calls=recent[-calls:], updated_at=utcnow()))
        return 0.0
