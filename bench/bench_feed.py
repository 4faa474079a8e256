"""ICS feed polling: a conditional GET answered 304 vs a full 200, on a 10,000-entry calendar.

A calendar app polls its feed every few minutes and nearly always gets "unchanged". The 304 is
answered from one aggregate query (no entry read, no render; see postplan/exports/feed.py), so
it must cost a small fraction of the 200 that renders the whole calendar. Both are measured
over real HTTP against one uvicorn process serving a temporary SQLite file, in the same run:
the 200 is the baseline of the 304's ratio.

    .venv/bin/python -m bench.bench_feed [--quick]      # prints a table
    .venv/bin/python -m bench.run --only feed            # through the shared runner
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.helpers import row
from bench.servers import uvicorn_process

USER = "bench"
#: The 304 is about constant (one request, one aggregate); the 200 grows with the calendar.
TARGET_RATIO = {10_000: 0.05, 1_000: 0.25}


async def _seed(url: str, n: int) -> uuid.UUID:
    from postplan.core.db import create_engine, create_sessionmaker
    from postplan.models import Calendar, CalendarEntry

    engine = create_engine(url)
    stamp = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
    start = dt.datetime(2026, 12, 1, 17, tzinfo=dt.UTC)
    zones = ["Europe/Paris", "America/New_York", "UTC", "Asia/Kolkata"]
    try:
        async with create_sessionmaker(engine)() as session:
            calendar = Calendar(id=uuid.uuid4(), user_id=USER, name="Bench Coffee", brief={},
                                timezone="Europe/Paris", created_at=stamp, updated_at=stamp)
            session.add(calendar)
            await session.flush()
            session.add_all([CalendarEntry(
                id=uuid.uuid4(), calendar_id=calendar.id, run_id=None, user_id=USER, seq=i,
                channel="tiktok" if i % 2 else "instagram",
                format="video" if i % 2 else "reel",
                scheduled_at=start + dt.timedelta(hours=3 * i), timezone=zones[i % 4],
                pillar="Tips", hook=f"Hook {i}: the secret ☕",
                caption="Morning ritual, step by step. " * 4, hashtags=["coffee", f"t{i % 50}"],
                call_to_action="Follow for more!", asset_notes="Close-up; natural light.",
                media=[], version=1, edited=False, created_at=stamp, updated_at=stamp)
                for i in range(n)])
            await session.commit()
            return calendar.id
    finally:
        await engine.dispose()


def _timed(client: httpx.Client, path: str, headers: dict[str, str], expect: int,
           repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        resp = client.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        if resp.status_code != expect:
            raise RuntimeError(f"expected {expect}, got {resp.status_code}: {resp.text[:200]}")
    return times


def bench_sqlite(n: int, repeats_200: int, repeats_304: int) -> list[dict[str, Any]]:
    from postplan.core.migrate import upgrade

    folder = Path(tempfile.mkdtemp(prefix="postplan-bench-feed-"))
    try:
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        upgrade(url)
        calendar_id = asyncio.run(_seed(url, n))
        env = {"DATABASE_URL": url, "PUBLISH_SERVICE_ENABLED": "true", "AUTH_MODE": "dev",
               "WORKER_ENABLED": "false", "SPOOL_DIR": str(folder / "spool"),
               "LOG_LEVEL": "WARNING", "LOG_FILE": str(folder / "server.log")}
        with uvicorn_process("postplan.app:build_default_app", env) as (base, _pid), \
                httpx.Client(base_url=base, timeout=120) as client:
            made = client.post(f"/v1/calendars/{calendar_id}/feed", headers={"X-User-Id": USER})
            made.raise_for_status()
            path = f"/v1/feeds/{made.json()['token']}.ics"
            first = client.get(path)
            first.raise_for_status()
            etag = first.headers["etag"]
            full = _timed(client, path, {}, 200, repeats_200)
            cheap = _timed(client, path, {"If-None-Match": etag}, 304, repeats_304)
        p200, p304 = statistics.median(full), statistics.median(cheap)
        target = TARGET_RATIO.get(n, 0.05)
        return [
            row(f"feed.sqlite_200_{n}_ms", p200, "ms", target="(baseline)"),
            row(f"feed.sqlite_304_{n}_ms", p304, "ms", baseline=p200,
                target=f"ratio <= {target}", ok=p304 / p200 <= target),
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(quick: bool) -> list[dict[str, Any]]:
    """Bench protocol entry point (bench/README.md)."""
    import logging

    logging.disable(logging.INFO)  # alembic's progress lines belong to nobody's stdout
    if quick:
        return bench_sqlite(1_000, repeats_200=5, repeats_304=50)
    return bench_sqlite(10_000, repeats_200=5, repeats_304=100)


if __name__ == "__main__":
    results = run("--quick" in sys.argv)
    print(f"{'figure':32} {'ms':>9} {'baseline':>9} {'ratio':>8}  target")
    for r in results:
        verdict = {True: "ok", False: "MISSED", None: ""}[r.get("ok")]
        baseline = "" if r["baseline"] is None else f"{r['baseline']:9.1f}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:8.4f}"
        print(f"{r['name']:32} {r['value']:9.2f} {baseline:>9} {ratio:>8}  {r['target']} "
              f"{verdict}")
