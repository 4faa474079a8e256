"""Flags shared by every process: two `postplan serve` and one `postplan worker` on one Postgres.

A flip through `postplan flags set` (which writes the `flag_definitions` row) changes what both
servers answer and what the worker sends within 2 s; a rollback stops live publishing in the
worker without losing the intent, which goes out once the flag is back on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.config import Settings
from tests.fakes.channels_server import (
    FakeChannelsConfig,
    FakeChannelsServer,
    fake_channels,
    fake_channels_server,
)
from tests.fixtures.apps import free_port
from tests.fixtures.processes import stop, wait_healthy
from tests.publishing.conftest import seed_calendar
from tests.publishing.fake_gateway import FakePlatformGateway, fake_env
from tests.publishing.helpers import add_connection, intent_rows, queue

__all__ = ["fake_channels", "fake_channels_server"]

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

POSTPLAN = str(Path(sys.executable).parent / "postplan")
FLIP_BUDGET = 2.0
SCRUB = {"CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED", "FLAGS_FILE", "DATABASE_URL",
         "LOG_FILE", "AUTH_MODE"}


@pytest.fixture
def backend() -> str:
    """Postgres only: on SQLite the definitions are a file on one host."""
    return "postgres"


def _env(db_url: str, tmp_path: Path, fake_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    env.update(fake_env(fake_url))
    env.update({"DATABASE_URL": db_url, "PUBLISH_SERVICE_ENABLED": "false",
                "FLAGS_POLL_SECONDS": "0.5", "WORKER_POLL_SECONDS": "0.05",
                "WORKER_ENABLED": "false", "LOG_LEVEL": "WARNING",
                "SPOOL_DIR": str(tmp_path / "spool")})
    return env


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([POSTPLAN, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


@contextmanager
def _cluster(env: dict[str, str]) -> Iterator[tuple[list[str], subprocess.Popen[bytes]]]:
    """Two servers and a worker, started at once (each pays its imports in parallel)."""
    ports = [free_port(), free_port()]
    procs = [_spawn(["serve", "--port", str(p), "--no-worker"], env) for p in ports]
    worker = _spawn(["worker", "--concurrency", "4", "--poll-seconds", "0.1",
                     "--retry-base", "0.2"], env)
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        deadline = time.monotonic() + 60
        for proc, url in zip(procs, urls, strict=True):
            wait_healthy(proc, url, deadline=deadline)
        yield urls, worker
    finally:
        for proc in (*procs, worker):
            stop(proc, timeout=20)


def _flags(env: dict[str, str], *args: str) -> str:
    """`postplan flags …` as the operator runs it (in-process: the CLI's own code, minus an
    interpreter start), with the cluster's environment."""
    from typer.testing import CliRunner

    from postplan.cli import app
    from postplan.config import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["flags", *args], env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


def _publish_on(url: str) -> tuple[bool, str]:
    body = httpx.get(url + "/v1/flags", headers={"X-User-Id": "local"}, timeout=2).json()
    flag = body["flags"]["PUBLISH_SERVICE_ENABLED"]
    return bool(flag["enabled"]), str(flag["source"])


def _until_everywhere(urls: list[str], value: bool, started: float) -> float:
    """Seconds from `started` until every server answers `value` (fails past the budget)."""
    pending = set(urls)
    while pending:
        pending = {u for u in pending if _publish_on(u)[0] is not value}
        elapsed = time.monotonic() - started
        assert elapsed <= FLIP_BUDGET, f"{sorted(pending)} still not {value} after {elapsed:.2f}s"
        if pending:
            time.sleep(0.05)
    return time.monotonic() - started


async def _wait(check: Callable[[], Any], what: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_a_flip_reaches_two_servers_and_a_worker_within_2s_and_loses_no_intent(
    fake_channels: FakeChannelsServer, settings_factory: Callable[..., Settings],
    engine: AsyncEngine, db_url: str, tmp_path: Path,
) -> None:
    fake = fake_channels
    fake.control.reset(FakeChannelsConfig(latency=0.0, ig_processing_polls=0))
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **fake_env(fake.url))
    account = fake.control.add_account("tiktok")
    await add_connection(engine, settings, "tiktok", token=account.token,
                         account_id=account.account_id)
    async with httpx.AsyncClient(timeout=10) as http:
        gateway = FakePlatformGateway(http, fake.url)
        env = _env(db_url, tmp_path, fake.url)

        # Revision 1, before anyone starts (a thread: the CLI runs its own event loop).
        await asyncio.to_thread(_flags, env, "set", "PUBLISH_SERVICE_ENABLED", "on")
        with _cluster(env) as (urls, worker):
            # The environment says off; the database says on, and wins in every process.
            assert [_publish_on(u) for u in urls] == [(True, "database")] * 2

            first, _ = await seed_calendar(engine, entries=[
                {"channel": "tiktok", "format": "video", "caption": "before-the-flip"}])
            await queue(engine, settings, gateway, first)

            async def sent_first() -> bool:
                return fake.control.count("before-the-flip") == 1
            await _wait(sent_first, "the worker did not publish while the flag was on")

            # Rollback: off everywhere within 2 s of the CLI returning.
            out = await asyncio.to_thread(_flags, env, "set", "PUBLISH_SERVICE_ENABLED", "off")
            started = time.monotonic()
            assert "revision 2" in out
            _until_everywhere(urls, False, started)
            # The worker polls as often as the servers: by the budget's end it has the flip too.
            await asyncio.sleep(max(0.0, FLIP_BUDGET - (time.monotonic() - started)))
            second, _ = await seed_calendar(engine, entries=[
                {"channel": "tiktok", "format": "video", "caption": "after-the-flip"}])
            await queue(engine, settings, gateway, second)  # queued just before the rollback

            async def deferred() -> bool:
                # Released untouched: pending again, its attempt given back, due in ~30 s.
                rows = [r for r in await intent_rows(engine)
                        if "after-the-flip" in r.request["caption"]]
                soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=15)
                return bool(rows) and rows[0].status == "pending" and rows[0].attempts == 0 \
                    and rows[0].run_after is not None and rows[0].run_after > soon
            await _wait(deferred, "the worker did not defer the intent while the flag was off",
                        within=10)
            assert fake.control.count("after-the-flip") == 0
            assert worker.poll() is None

            # Back on: the kept intent goes out once it is due (moved to now: time passes).
            await asyncio.to_thread(_flags, env, "set", "PUBLISH_SERVICE_ENABLED", "on")
            _until_everywhere(urls, True, time.monotonic())
            await asyncio.sleep(FLIP_BUDGET)
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE publish_intents SET run_after = now() "
                                        "WHERE status = 'pending'"))

            async def sent_second() -> bool:
                return fake.control.count("after-the-flip") == 1
            await _wait(sent_second, "the deferred intent was lost")
    rows = await intent_rows(engine)
    assert sorted(r.status for r in rows) == ["published", "published"]
    assert fake.control.duplicates() == {}
