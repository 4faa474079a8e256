"""Export speed: 10,000 entries in each format (target ≤ 1 s each).

Two figures per format, each with a baseline measured in the same process:
* `render`: the format writer alone over 10,000 in-memory rows, vs `json.dumps` of the same rows.
* `sqlite`: the whole export path (keyset reads through the calendars service + render + hash)
  from a temporary SQLite file, vs loading every row at once and `json.dumps`-ing it; wall
  time, and CPU time of the process (`_cpu_ms`), which a loaded shared machine inflates less.

    .venv/bin/python -m bench.bench_exports [--quick]      # prints a table
    .venv/bin/python -m bench.run --only exports            # through the shared runner
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.helpers import row

TARGET_MS = 1000.0
REPEATS = 3


def _rows(n: int) -> tuple[Any, list[Any]]:
    calendar = SimpleNamespace(
        id=uuid.uuid4(), name="Bench Coffee — Winter", brief={"brand": "Bench"},
        timezone="Europe/Paris", latest_run_id=uuid.uuid4(),
        created_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        updated_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    zones = ["Europe/Paris", "America/New_York", "UTC", "Asia/Kolkata"]
    start = dt.datetime(2026, 12, 1, 17, tzinfo=dt.UTC)
    rows = []
    for i in range(n):
        channel = "tiktok" if i % 2 else "instagram"
        rows.append(SimpleNamespace(
            id=uuid.uuid4(), calendar_id=calendar.id, run_id=calendar.latest_run_id,
            channel=channel, format="video" if channel == "tiktok" else "reel",
            scheduled_at=start + dt.timedelta(hours=3 * i), timezone=zones[i % 4],
            pillar="Tips, tricks", hook=f"Hook {i}: \"the\" secret, 😀 مرحبا",
            caption=("=Morning ritual, step by step.\nשלום — try it ☕ " * 4).strip(),
            hashtags=["coffee", "morning", f"tag{i % 50}"], call_to_action="Follow for more!",
            asset_notes="Close-up of the pour; natural light.",
            media=[{"url": f"https://cdn.example.test/{i}.jpg", "type": "image"}],
            version=1 + i % 3, edited=bool(i % 3),
            updated_at=dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)))
    return calendar, rows


def _best_ms(fn: Any) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


def _plain_json(rows: list[Any]) -> bytes:
    return json.dumps([vars(r) for r in rows], default=str, ensure_ascii=False).encode()


def bench_render(n: int) -> list[dict[str, Any]]:
    from postplan.exports.files import ExportFormat, render_sync

    calendar, rows = _rows(n)
    baseline = _best_ms(lambda: _plain_json(rows))
    out = []
    for fmt in ExportFormat:
        ms = _best_ms(lambda fmt=fmt: render_sync(calendar, rows, fmt).read_all())
        out.append(row(f"exports.render_{fmt.value.replace('-', '_')}_{n}_ms", ms, "ms",
                       baseline=baseline, target=f"<= {TARGET_MS:.0f} ms",
                       ok=ms <= TARGET_MS))
    return out


async def _bench_sqlite(n: int, url: str) -> list[dict[str, Any]]:
    from postplan.calendars import service as calendars
    from postplan.core.db import create_engine, create_sessionmaker
    from postplan.exports import service
    from postplan.exports.files import ExportFormat
    from postplan.models import Calendar, CalendarEntry

    engine = create_engine(url)
    maker = create_sessionmaker(engine)
    calendar, rows = _rows(n)
    async with maker() as session:
        session.add(Calendar(id=calendar.id, user_id="bench", name=calendar.name,
                             brief=calendar.brief, timezone=calendar.timezone,
                             latest_run_id=None, created_at=calendar.created_at,
                             updated_at=calendar.updated_at))
        await session.flush()
        session.add_all([CalendarEntry(
            id=r.id, calendar_id=r.calendar_id, run_id=None, user_id="bench", seq=i,
            channel=r.channel, format=r.format, scheduled_at=r.scheduled_at,
            timezone=r.timezone, pillar=r.pillar, hook=r.hook, caption=r.caption,
            hashtags=r.hashtags, call_to_action=r.call_to_action, asset_notes=r.asset_notes,
            media=r.media, version=r.version, edited=r.edited, updated_at=r.updated_at,
            created_at=r.updated_at) for i, r in enumerate(rows)])
        await session.commit()

    async def baseline_once() -> None:
        async with maker() as session:
            loaded, _ = await calendars.list_entries(session, "bench", calendar.id)
            _plain_json(list(loaded))

    async def export_once(fmt: ExportFormat) -> None:
        async with maker() as session:
            file = await service.export_calendar(session, "bench", calendar.id, fmt)
            for _chunk in file.chunks():
                pass

    async def best(make: Any) -> tuple[float, float]:
        """Best wall time and best CPU time (all threads: aiosqlite runs in one) in ms."""
        walls, cpus = [], []
        for _ in range(REPEATS):
            wall, cpu = time.perf_counter(), time.process_time()
            await make()
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        return min(walls), min(cpus)

    try:
        baseline, baseline_cpu = await best(baseline_once)
        out = []
        for fmt in ExportFormat:
            ms, cpu = await best(lambda fmt=fmt: export_once(fmt))
            name = f"exports.sqlite_{fmt.value.replace('-', '_')}_{n}"
            out.append(row(f"{name}_ms", ms, "ms", baseline=baseline,
                           target=f"<= {TARGET_MS:.0f} ms", ok=ms <= TARGET_MS))
            # CPU time is what the export costs this process; on a shared, loaded machine the
            # wall time also counts the time other processes held the cores.
            out.append(row(f"{name}_cpu_ms", cpu, "ms", baseline=baseline_cpu,
                           target=f"<= {TARGET_MS:.0f} ms"))
        return out
    finally:
        await engine.dispose()


def bench_sqlite(n: int) -> list[dict[str, Any]]:
    from postplan.core.migrate import upgrade

    folder = Path(tempfile.mkdtemp(prefix="postplan-bench-exports-"))
    try:
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        upgrade(url)
        return asyncio.run(_bench_sqlite(n, url))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(quick: bool) -> list[dict[str, Any]]:
    """Bench protocol entry point (bench/README.md)."""
    import logging

    logging.disable(logging.INFO)  # alembic's progress lines belong to nobody's stdout
    n = 1_000 if quick else 10_000
    return bench_render(n) + bench_sqlite(n)


if __name__ == "__main__":
    results = run("--quick" in sys.argv)
    print(f"{'figure':40} {'ms':>9} {'baseline':>9} {'ratio':>7}  target")
    for r in results:
        verdict = {True: "ok", False: "MISSED", None: ""}[r.get("ok")]
        print(f"{r['name']:40} {r['value']:9.1f} {r['baseline']:9.1f} {r['ratio']:7.2f}  "
              f"{r['target']} {verdict}")
