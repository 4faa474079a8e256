"""Database load of resume streams held on one orphaned run (issue 12, item 6).

One postplan process (uvicorn, Postgres) serves N resume streams (`GET
/v1/ai/calendar/runs/{runId}/events`, 100 in the full run) on one run that is `running` in the
database but executed by no process (orphaned: its process died, the sweeper has not settled it
yet). Every stream waits for entries that never come. The figure is the database's transaction
rate while they wait, from `pg_stat_database` (`xact_commit + xact_rollback` of the bench
database), against the same rate with no stream open (the baseline: the process's own
background work). Before the shared tail each stream polled on its own (two transactions every
0.25 s per stream); now one tail per run polls for all of them, backing off while idle.

    .venv/bin/python -m bench.bench_resume [--quick]
    BENCH_SERVER_PYTHONPATH=/path/to/other/checkout .venv/bin/python -m bench.bench_resume
        # the same measurement against another version of the server (before/after)
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.helpers import row
from bench.servers import ROOT, uvicorn_process
from postplan.core.migrate import upgrade

PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
STATS_SETTLE_SECONDS = 11.0
BRIEF = {"brand": "Acme", "startDate": "2026-12-01", "days": 7, "channels": ["tiktok"]}


async def _admin(sql: str, dsn: str = PG_ADMIN_DSN) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn, timeout=3)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def _xacts(dsn: str, name: str) -> int:
    # Shared-memory statistics are flushed by a busy backend about once a second; a fresh
    # snapshot per call, and windows of several seconds, keep that error small.
    conn = await asyncpg.connect(dsn, timeout=3)
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        value = await conn.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", name)
        return int(value)
    finally:
        await conn.close()


async def _rate(dsn: str, name: str, seconds: float) -> float:
    """Transactions per second on the database over `seconds` (the probe's own subtracted)."""
    # A backend that goes idle with unflushed statistics flushes them up to 10 s later
    # (PGSTAT_IDLE_INTERVAL): wait that out, so the attach requests are not counted.
    await asyncio.sleep(STATS_SETTLE_SECONDS)
    first = await _xacts(dsn, name)
    started = time.monotonic()
    await asyncio.sleep(seconds)
    last = await _xacts(dsn, name)
    elapsed = time.monotonic() - started
    own = 2  # the probe's own transactions (the clear, the read)
    return max(last - first - own, 0) / elapsed


async def _measure(url: str, dsn: str, name: str, streams: int, seconds: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        resp = await client.post("/v1/ai/calendar", json=BRIEF)
        resp.raise_for_status()
        run_id = resp.text.split('"runId":"', 1)[1].split('"', 1)[0]
        # Orphan the run: `running` with a fresh heartbeat, executed by no process.
        await _admin("UPDATE calendar_runs SET status = 'running', finished_at = NULL, "
                     "heartbeat_at = now()", dsn)
        idle = await _rate(dsn, name, seconds)
        url_events = f"/v1/ai/calendar/runs/{run_id}/events"
        opened = 0
        attached = asyncio.Event()

        async def hold() -> None:
            # Reads its stream to the end: a client that stops reading (or breaks out of the
            # line iterator, which closes the connection) would not be a held stream.
            nonlocal opened
            async with client.stream("GET", url_events) as stream:
                stream.raise_for_status()
                counted = False
                async for line in stream.aiter_lines():
                    if line.startswith("event: entry") and not counted:
                        counted = True
                        opened += 1
                        if opened == streams:
                            attached.set()

        tasks = [asyncio.create_task(hold()) for _ in range(streams)]
        try:
            async with asyncio.timeout(60):
                await attached.wait()
            held = await _rate(dsn, name, seconds)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return {"idle": idle, "held": held, "streams": opened}


def run(quick: bool) -> list[dict[str, Any]]:
    """Transactions per second with N resume streams on one orphaned run; N = 100 (30 quick)."""
    streams, seconds = (30, 4.0) if quick else (100, 10.0)
    name = f"pp_bench_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError):
        return []  # no Postgres on this machine
    dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    pg_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    root = Path(os.environ.get("BENCH_SERVER_PYTHONPATH", str(ROOT)))
    try:
        upgrade(pg_url)
        for var in ("FLAGS_FILE", "PUBLISH_SERVICE_ENABLED", "LOG_FILE", "LLM_BASE_URL"):
            os.environ.pop(var, None)
        with tempfile.TemporaryDirectory(prefix="pp-bench-resume-") as tmp, uvicorn_process(
            "postplan.app:build_default_app",
            {"DATABASE_URL": pg_url, "WORKER_ENABLED": "false", "LOG_LEVEL": "WARNING",
             "CALENDAR_SERVICE_ENABLED": "true", "SPOOL_DIR": f"{tmp}/spool",
             "MAX_STREAMS_PER_RUN": str(streams + 10),
             "MAX_STREAMS_PER_USER": str(streams + 10)},
            root=root,
        ) as (url, _pid):
            started = time.perf_counter()
            res = asyncio.run(_measure(url, dsn, name, streams, seconds))
            print(f"bench_resume: {res} in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    per_stream = res["held"] / max(res["streams"], 1)
    return [
        row(f"resume.xacts_per_s_{streams}_streams", res["held"], "xact/s",
            baseline=res["idle"], target="< 10 xact/s", ok=res["held"] < 10),
        row(f"resume.xacts_per_s_per_stream_{streams}", per_stream, "xact/s"),
    ]


def main() -> None:
    for r in run("--quick" in sys.argv):
        print(f"{r['name']}: {r['value']:.2f} {r['unit']} (baseline {r['baseline']}, "
              f"target {r['target']}, ok {r.get('ok')})")


if __name__ == "__main__":
    main()
