"""Per-account pacing in the worker: one call in flight per account, and a sliding window of
publish calls per account token that mirrors the platform's per-token limit.

The adapters keep their own ledger and refuse locally too; pacing here first means a busy account
waits its turn without spending the intent's retry budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from postplan.core.ratelimit import RateLedger

#: channel → (calls, window seconds) for the irreversible call. TikTok: 6 inits/min per token.
DEFAULT_LIMITS: dict[str, tuple[int, float]] = {"tiktok": (6, 60.0), "instagram": (25, 60.0)}


class AccountLimiter:
    """Serialises work per account and spaces publish calls within each account's budget."""

    def __init__(self, limits: dict[str, tuple[int, float]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._windows = RateLedger(clock)  # one slot per publish call, keyed (account, channel)

    @asynccontextmanager
    async def account(self, channel: str, account: str) -> AsyncIterator[None]:
        """Hold the account for one job (one call in flight per account)."""
        lock = self._locks.setdefault((channel, account), asyncio.Lock())
        async with lock:
            yield

    def reserve(self, channel: str, account: str) -> float:
        """Take a publish slot: 0.0 when granted, else seconds until one frees up."""
        limit = self.limits.get(channel)
        if limit is None:
            return 0.0
        calls, window = limit
        wait = self._windows.acquire(account, channel, calls, window)
        return max(0.01, wait) if wait else 0.0
