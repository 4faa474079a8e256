"""Sliding-window rate limits kept in this process: the one implementation.

Used by the channel adapters (per-token platform limits, e.g. TikTok's 6 inits/min, keyed by a
hash of the token, `channels.ratelimit.token_key`) and by the publish worker's per-account
pacing (`publishing.worker.limiter`). Refusing locally costs nothing and keeps the platform's
counters clean; the platform's 429 is still mapped to RetryLater for limits this process cannot see.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["RateLedger"]


class RateLedger:
    """Sliding windows keyed by (key, bucket); thread-safe. Keys are never secrets."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, bucket: str, limit: int, window: float = 60.0) -> float:
        """Take one slot; returns 0.0 on success, else the seconds until a slot frees up."""
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault((key, bucket), deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return max(0.001, hits[0] + window - now)
            hits.append(now)
            return 0.0

    def release(self, key: str, bucket: str) -> None:
        """Give back the latest slot (the call was never sent)."""
        with self._lock:
            hits = self._hits.get((key, bucket))
            if hits:
                hits.pop()
