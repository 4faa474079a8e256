"""The worker's per-account pacing: a sliding window of publish calls per account and channel
(`core.ratelimit.RateLedger`, the same windows the adapters keep per token)."""

from __future__ import annotations

from postplan.publishing.worker.limiter import AccountLimiter


async def test_reserve_spaces_calls_within_each_accounts_window() -> None:
    now = [100.0]
    limiter = AccountLimiter({"tiktok": (2, 60.0)}, clock=lambda: now[0])
    assert await limiter.reserve("tiktok", "a") == 0.0
    assert await limiter.reserve("tiktok", "a") == 0.0
    assert await limiter.reserve("tiktok", "a") == 60.0  # the oldest call frees its slot at 160
    assert await limiter.reserve("tiktok", "b") == 0.0  # another account has its own window
    now[0] = 159.995
    assert await limiter.reserve("tiktok", "a") == 0.01  # never less than 10 ms
    now[0] = 160.0
    assert await limiter.reserve("tiktok", "a") == 0.0
    assert await limiter.reserve("instagram", "a") == 0.0  # no limit configured: never waits
