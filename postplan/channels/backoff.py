"""Retry delays: honour what the platform says (Retry-After, usage headers), else back off
exponentially with full jitter so many workers do not retry in lockstep."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

__all__ = ["backoff_delay", "jittered", "retry_after_seconds"]


def backoff_delay(
    attempt: int, *, base: float = 2.0, cap: float = 900.0, rng: random.Random | None = None
) -> float:
    """Exponential backoff with full jitter for the `attempt`-th retry (1-based)."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def jittered(seconds: float, *, spread: float = 0.2, rng: random.Random | None = None) -> float:
    """`seconds` plus up to `spread` of itself, so retries of a shared limit spread out."""
    return seconds * (1 + (rng or random).uniform(0, spread))


def retry_after_seconds(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """The delay a response asks for: `Retry-After` (seconds or HTTP date) or
    `X-RateLimit-Reset`-style headers (seconds until reset). None when the response says nothing."""
    value = response.headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    for name in ("x-ratelimit-reset-after", "x-ratelimit-reset"):
        value = response.headers.get(name)
        if value:
            try:
                seconds = float(value)
            except ValueError:
                continue
            # Some APIs send an epoch timestamp rather than a delay.
            if seconds > 10**9:
                seconds -= (now or datetime.now(UTC)).timestamp()
            return max(0.0, seconds)
    return None
