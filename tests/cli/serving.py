"""`postplan serve` as a real child process for CLI tests (smoke, logs)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.fixtures.apps import free_port
from tests.fixtures.processes import stop, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
SCRUBBED = {"CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED", "FLAGS_FILE", "DATABASE_URL",
            "AUTH_MODE", "LOG_FILE", "LLM_BASE_URL"}


@contextmanager
def served(tmp_path: Path, **extra: str) -> Iterator[tuple[str, Path, str]]:
    """Yields (base URL, log file, database URL); SIGTERM at the end."""
    port = free_port()
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update({"DATABASE_URL": db_url, "LOG_FILE": str(tmp_path / "server.log"),
                "WORKER_ENABLED": "false", "SPOOL_DIR": str(tmp_path / "spool"), **extra})
    proc = subprocess.Popen([sys.executable, "-m", "postplan.cli", "serve", "--port", str(port),
                             "--no-worker"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, deadline=time.monotonic() + 30)
        yield url, Path(env["LOG_FILE"]), db_url
    finally:
        stop(proc, timeout=20)


def seed_calendar(db_url: str, user_id: str) -> str:
    """A saved calendar with one entry per channel, as Epic 1 would have left it."""
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from postplan.models.calendar import Calendar
    from postplan.models.entry import CalendarEntry

    async def run() -> str:
        engine = create_async_engine(db_url)
        try:
            async with async_sessionmaker(engine)() as session:
                calendar = Calendar(user_id=user_id, name="Smoke calendar",
                                    brief={"brand": "smoke"}, timezone="UTC")
                session.add(calendar)
                await session.flush()
                calendar_id = str(calendar.id)
                for seq, (channel, fmt) in enumerate((("tiktok", "video"),
                                                      ("instagram", "reel"))):
                    session.add(CalendarEntry(
                        calendar_id=calendar.id, user_id=user_id, seq=seq, channel=channel,
                        format=fmt, scheduled_at=dt.datetime(2030, 1, 8 + seq, 15, tzinfo=dt.UTC),
                        timezone="UTC", pillar="launch", hook="Hook", caption="Caption",
                        hashtags=["smoke"]))
                await session.commit()
                return calendar_id
        finally:
            await engine.dispose()

    return asyncio.run(run())
