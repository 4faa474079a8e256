"""A local ledger of per-token sliding-window limits (TikTok: 6 inits/min, 20 creator_info/min).

Refusing locally costs nothing and keeps the platform's counters clean; the platform's 429 is still
mapped to RetryLater for limits this process cannot see (other processes, other apps). Keys are
hashes of tokens, never the tokens.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["RateLedger", "token_key"]


def token_key(token: str) -> str:
    """A stable, non-reversible key for a token."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class RateLedger:
    """Sliding windows keyed by (token key, bucket); thread-safe."""

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
