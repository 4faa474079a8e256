"""postplan's per-request overhead against a bare Starlette endpoint doing the same DB work.

Both apps run under uvicorn in their own process on 127.0.0.1 against the same database (a
calendar of 30 entries): `GET /v1/calendars/{id}/entries`. The load generator keeps a fixed
number of requests in flight; the figures are throughput and median latency, and their ratios
(postplan / bare) measured in the same run.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.helpers import row
from bench.servers import uvicorn_process
from postplan.core.migrate import upgrade
from tests.fixtures.factories import seed_calendar

PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _load(url: str, path: str, seconds: float,
                concurrency: int) -> tuple[float, list[float]]:
    """(requests per second, latencies in ms) for `seconds` of GETs, `concurrency` in flight."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        for _ in range(50):  # warm-up: connections, statement caches
            (await client.get(path)).raise_for_status()
        errors = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                resp = await client.get(path)
                latencies.append((time.perf_counter() - t0) * 1000)
                if resp.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{errors} non-200 answers from {url}{path}")
    return len(latencies) / elapsed, latencies


def _measure(db_url: str, calendar_id: uuid.UUID, seconds: float, concurrency: int,
             spool: Path) -> dict[str, tuple[float, list[float]]]:
    path = f"/v1/calendars/{calendar_id}/entries"
    env = {"DATABASE_URL": db_url, "WORKER_ENABLED": "false", "LOG_LEVEL": "INFO",
           "SPOOL_DIR": str(spool), "AUTH_MODE": "dev"}
    for name in ("CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED", "FLAGS_FILE",
                 "LOG_FILE", "LLM_BASE_URL"):
        os.environ.pop(name, None)
    out: dict[str, tuple[float, list[float]]] = {}
    # Alternate bare/postplan twice and keep each side's better run: machine noise cancels.
    for _round in range(2):
        for name, target, probe in (
            ("bare", "bench._bare_app:app_factory", f"/v1/calendars/{uuid.uuid4()}/entries"),
            ("postplan", "postplan.app:build_default_app", "/healthz"),
        ):
            with uvicorn_process(target, env, probe=probe) as (url, _pid):
                rps, lat = asyncio.run(_load(url, path, seconds, concurrency))
            if name not in out or rps > out[name][0]:
                out[name] = (rps, lat)
    return out


def _rows(backend: str, res: dict[str, tuple[float, list[float]]],
          concurrency: int) -> list[dict[str, Any]]:
    bare_rps, bare_lat = res["bare"]
    pp_rps, pp_lat = res["postplan"]
    bare_p50, pp_p50 = statistics.median(bare_lat), statistics.median(pp_lat)
    # Extra server time per request: the difference in per-request service time.
    added_ms = (1000 / pp_rps - 1000 / bare_rps)
    return [
        row(f"overhead.{backend}.bare_rps", bare_rps, "req/s", better="higher",
            target=f"{concurrency} in flight"),
        row(f"overhead.{backend}.postplan_rps", pp_rps, "req/s", baseline=bare_rps,
            better="higher", target="ratio > 0.5"),
        row(f"overhead.{backend}.p50_ms", pp_p50, "ms", baseline=bare_p50,
            target="ratio < 2"),
        row(f"overhead.{backend}.added_ms_per_request", max(added_ms, 0.0), "ms",
            target="< 5 ms"),
    ]


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def run(quick: bool) -> list[dict[str, Any]]:
    """Throughput and latency of postplan vs bare Starlette, SQLite (and Postgres when full)."""
    seconds, concurrency = (4.0, 8) if quick else (10.0, 16)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pp-bench-") as tmp:
        db_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        upgrade(db_url)
        seeded = asyncio.run(seed_calendar(db_url, entries=30))
        res = _measure(db_url, seeded.calendar_id, seconds, concurrency, Path(tmp) / "spool")
        rows += _rows("sqlite", res, concurrency)
        if not quick:
            name = f"pp_bench_{uuid.uuid4().hex[:8]}"
            try:
                asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
            except (OSError, asyncpg.PostgresError):
                return rows  # no Postgres on this machine: SQLite figures only
            pg_url = PG_ADMIN_DSN.rsplit("/", 1)[0].replace(
                "postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
            try:
                upgrade(pg_url)
                seeded = asyncio.run(seed_calendar(pg_url, entries=30))
                res = _measure(pg_url, seeded.calendar_id, seconds, concurrency,
                               Path(tmp) / "spool")
                rows += _rows("postgres", res, concurrency)
            finally:
                asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return rows
