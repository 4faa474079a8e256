"""1,000 concurrent SSE streams across two postplan processes on one Postgres.

Two `postplan` API processes (uvicorn) share one Postgres database. A generation runs on the
first against the fake model, which writes one entry and then goes quiet for the hold period;
half the clients attach to the run's stream on the process that runs it, half on the other
one, which can only follow it through the database (the shared run tail). Every client must get
`run`, the entries and `done`. Figure: error rate across both (target < 1 %), and how many
streams each process held.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.bench_sse import hold_stream, start_run
from bench.helpers import row
from bench.servers import uvicorn_process
from postplan.core.migrate import upgrade
from tests.fakes.llm_server import FakeLLMConfig, fake_llm

ADMIN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def measure(urls: list[str], n: int, hold: float) -> dict[str, Any]:
    ports = [int(u.rsplit(":", 1)[1]) for u in urls]
    async with httpx.AsyncClient(base_url=urls[0], timeout=30) as client:
        run_id = await start_run(client)
    await asyncio.sleep(0.5)
    counter = [0, n]
    attached = asyncio.Event()
    tasks = []
    for i in range(n):
        port = ports[i % 2]
        tasks.append(asyncio.create_task(hold_stream(port, run_id, attached, counter)))
        if i % 50 == 49:
            await asyncio.sleep(0.01)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(attached.wait(), timeout=max(hold - 1, 5))
    outcomes = await asyncio.gather(*tasks)
    per_process = [sum(o == "ok" for o in outcomes[i::2]) for i in range(2)]
    kinds: dict[str, int] = {}
    for o in outcomes:
        kinds[o] = kinds.get(o, 0) + 1
    return {"errors": sum(o != "ok" for o in outcomes), "kinds": kinds,
            "per_process": per_process}


def run(quick: bool) -> list[dict[str, Any]]:
    """Hold N streams split over two processes; N = 1,000 (200 with --quick)."""
    n, hold = (200, 8.0) if quick else (1000, 20.0)
    name = f"postplan_bench_sse_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    db_url = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
    try:
        upgrade(db_url)
        with tempfile.TemporaryDirectory(prefix="pp-bench-ssec-") as tmp, \
                fake_llm(FakeLLMConfig(stall_after=1, stall_seconds=hold)) as (_fake, base):
            env = {"DATABASE_URL": db_url, "WORKER_ENABLED": "false", "LOG_LEVEL": "WARNING",
                   "SPOOL_DIR": str(Path(tmp) / "spool"), "CALENDAR_SERVICE_ENABLED": "true",
                   "LLM_BASE_URL": base, "LLM_API_KEY": "sk-bench", "LLM_MODEL": "fake",
                   "AI_TIMEOUT_SECONDS": str(hold * 4), "SSE_PING_SECONDS": "5",
                   "SSE_SEND_TIMEOUT_SECONDS": "30", "DATABASE_POOL_SIZE": "10",
                   "MAX_STREAMS_PER_RUN": str(n + 10), "MAX_STREAMS_PER_USER": str(n + 10)}
            for var in ("FLAGS_FILE", "PUBLISH_SERVICE_ENABLED", "LOG_FILE"):
                os.environ.pop(var, None)
            with uvicorn_process("postplan.app:build_default_app", env) as (url_a, _), \
                    uvicorn_process("postplan.app:build_default_app", env) as (url_b, _):
                res = asyncio.run(measure([url_a, url_b], n, hold))
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    error_pct = 100.0 * res["errors"] / n
    return [
        row("sse_cluster.error_rate_pct", error_pct, "%", target="< 1 % over 2 processes",
            ok=error_pct < 1.0),
        row("sse_cluster.streams_on_runner", float(res["per_process"][0]), "streams",
            better="higher", target=f"{n // 2}"),
        row("sse_cluster.streams_on_follower", float(res["per_process"][1]), "streams",
            better="higher", target=f"{n // 2} (via the database tail)"),
    ]
