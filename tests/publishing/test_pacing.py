"""Per-account pacing shared by every worker: the window lives in the database.

Two limiters on one database share one window per account (both backends); two `postplan worker`
processes publishing one account's burst against the fake TikTok never exceed the limit in any
window, and do not idle while there is room.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.config import Settings
from postplan.publishing.worker.limiter import AccountLimiter
from tests.fakes.channels_server import (
    FakeChannelsConfig,
    FakeChannelsServer,
    fake_channels,
    fake_channels_server,
)
from tests.fixtures.processes import stop
from tests.publishing.conftest import seed_calendar
from tests.publishing.fake_gateway import FakePlatformGateway, fake_env
from tests.publishing.helpers import add_connection, intent_rows, queue

__all__ = ["fake_channels", "fake_channels_server"]

POSTPLAN = str(Path(sys.executable).parent / "postplan")


async def test_two_limiters_on_one_database_share_each_accounts_window(
        engine: AsyncEngine) -> None:
    now = [1000.0]
    a, b = (AccountLimiter({"tiktok": (2, 60.0)}, engine=engine, wall_clock=lambda: now[0])
            for _ in range(2))
    assert await a.reserve("tiktok", "acct") == 0.0
    assert await b.reserve("tiktok", "acct") == 0.0
    assert await a.reserve("tiktok", "acct") == pytest.approx(60.0)  # b's call counts for a
    assert await b.reserve("tiktok", "other") == 0.0  # another account: its own window
    assert await b.reserve("instagram", "acct") == 0.0  # no limit configured
    now[0] = 1059.0
    assert await b.reserve("tiktok", "acct") == pytest.approx(1.0)
    now[0] = 1060.0
    assert await b.reserve("tiktok", "acct") == 0.0  # room again: granted at once


def _spawn_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([POSTPLAN, "worker", "--concurrency", "4", "--poll-seconds", "0.1",
                             "--retry-base", "0.2"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max((sum(1 for t in times[i:] if t - start < window)
                for i, start in enumerate(times)), default=0)


@pytest.mark.postgres
@pytest.mark.slow
async def test_two_worker_processes_pace_one_accounts_burst(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings],
    engine: AsyncEngine, db_url: str, backend: str, tmp_path: Path,
) -> None:
    if backend != "postgres":
        pytest.skip("worker processes share a Postgres database (SQLite: one host's writer)")
    window, margin, limit, burst = 3.0, 1.0, 6, 12
    fake = fake_channels
    fake.control.reset(FakeChannelsConfig(
        tiktok_processing_polls=0, tiktok_daily_cap=100, tiktok_pending_share_cap=100))
    inits: list[float] = []
    original = fake.control.take

    def take(token: str, bucket: str, limit_: int, window_: float = 60.0) -> bool:
        # The fake enforces TikTok's limit over the shrunk window and logs each init.
        granted = original(token, bucket, limit_, window if bucket == "init" else window_)
        if bucket == "init":
            inits.append(time.monotonic())
        return granted

    fake.control.take = take  # type: ignore[method-assign]
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **fake_env(fake.url))
    account = fake.control.add_account("tiktok")
    await add_connection(engine, settings, "tiktok", token=account.token,
                         account_id=account.account_id)
    import httpx

    async with httpx.AsyncClient(timeout=10) as http:
        cal, _ = await seed_calendar(engine, entries=[
            {"channel": "tiktok", "format": "video", "caption": f"burst-{i}"}
            for i in range(burst)])
        await queue(engine, settings, FakePlatformGateway(http, fake.url), cal)

    env: dict[str, Any] = {k: v for k, v in os.environ.items()
                           if k not in ("DATABASE_URL", "PUBLISH_SERVICE_ENABLED", "FLAGS_FILE")}
    env.update(fake_env(fake.url))
    env.update({"DATABASE_URL": db_url, "PUBLISH_SERVICE_ENABLED": "true",
                "PACING_WINDOW_SECONDS": str(window),
                "PACING_MARGIN_SECONDS": str(margin), "WORKER_POLL_SECONDS": "0.05",
                "LOG_LEVEL": "WARNING", "SPOOL_DIR": str(tmp_path / "spool")})
    procs = [_spawn_worker(env) for _ in range(2)]
    try:
        deadline = time.monotonic() + 90
        while sum(r.status == "published" for r in await intent_rows(engine)) < burst:
            assert all(p.poll() is None for p in procs), "a worker exited"
            assert time.monotonic() < deadline, [(r.status, r.error)
                                                 for r in await intent_rows(engine)]
            await asyncio.sleep(0.1)
    finally:
        for p in procs:
            stop(p, timeout=20)

    assert len(inits) == burst  # every init granted by the fake: none refused, none repeated
    assert _max_in_window(inits, window) <= limit
    # No idling: the second half went out as soon as the first half's window let it.
    span = max(inits) - min(inits)
    assert window <= span <= window + margin + 2.5, span
    assert fake.control.duplicates() == {}
