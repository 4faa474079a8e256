"""Concurrent SSE streams held by one postplan process: error rate and memory per stream.

One `postplan` process (uvicorn, SQLite) runs an AI generation against the fake model, which
writes the first entry and then goes quiet for the hold period. N clients (1,000 in the full run)
attach to that run's stream (`GET /v1/ai/calendar/runs/{runId}/events`) and are held open —
pings only — until the model finishes; each must receive `run`, the entries and `done`.
Figures: error rate (non-200, reset, or no `done`), the peak of `postplan_sse_open_streams`,
the server's RSS growth per held stream, and how long it took to attach all of them.
Clients are raw asyncio sockets so the load generator stays light on a 2-core machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.helpers import row, rss_mib
from bench.servers import uvicorn_process
from postplan.core.migrate import upgrade
from tests.fakes.llm_server import FakeLLMConfig, fake_llm

BRIEF = {"brand": "Acme Coffee", "startDate": "2026-12-01", "days": 1, "postsPerWeek": 7,
         "channels": ["tiktok", "instagram"]}
OPEN_GAUGE = re.compile(r"^postplan_sse_open_streams (\S+)$", re.M)


async def start_run(client: httpx.AsyncClient) -> str:
    """Start the generation and return its runId (the starter hangs up; the run goes on)."""
    async with client.stream("POST", "/v1/ai/calendar", json=BRIEF) as resp:
        resp.raise_for_status()
        async for line in resp.aiter_lines():
            if line.startswith("data:") and '"runId"' in line:
                return str(json.loads(line[5:])["runId"])
    raise RuntimeError("no run event")


async def hold_stream(port: int, run_id: str, attached: asyncio.Event | None,
                      counter: list[int]) -> str:
    """One client: attach, count as attached on the first event, read to `done`."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return "connect_error"
    try:
        writer.write(f"GET /v1/ai/calendar/runs/{run_id}/events HTTP/1.1\r\n"
                     "Host: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            return "http_" + status.decode(errors="replace").split(" ")[1:2][0]
        first = True
        while True:
            line = await reader.readline()
            if not line:
                return "closed_early"
            if line.startswith(b"event:") and first:
                first = False
                counter[0] += 1
                if attached is not None and counter[1] and counter[0] >= counter[1]:
                    attached.set()
            if line.startswith(b"event: done") or line.startswith(b"event:done"):
                return "ok"
    except (OSError, asyncio.IncompleteReadError):
        return "reset"
    finally:
        writer.close()


def open_streams(metrics: str) -> float:
    match = OPEN_GAUGE.search(metrics)
    return float(match.group(1)) if match else 0.0


async def measure(url: str, pid: int, n: int, hold: float) -> dict[str, Any]:
    port = int(url.rsplit(":", 1)[1])
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        run_id = await start_run(client)
        await asyncio.sleep(0.5)
        rss_before = rss_mib(pid)
        counter = [0, n]
        attached = asyncio.Event()
        started = time.perf_counter()
        tasks = []
        for i in range(n):
            tasks.append(asyncio.create_task(hold_stream(port, run_id, attached, counter)))
            if i % 50 == 49:
                await asyncio.sleep(0.01)  # let the server accept between bursts
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(attached.wait(), timeout=max(hold - 1, 5))
        attach_s = time.perf_counter() - started
        peak_open = open_streams((await client.get("/metrics")).text)
        rss_peak = rss_mib(pid)
        outcomes = await asyncio.gather(*tasks)
    errors = sum(o != "ok" for o in outcomes)
    kinds: dict[str, int] = {}
    for o in outcomes:
        kinds[o] = kinds.get(o, 0) + 1
    return {"errors": errors, "kinds": kinds, "attached": counter[0], "attach_s": attach_s,
            "peak_open": peak_open, "rss_before": rss_before, "rss_peak": rss_peak}


def run(quick: bool) -> list[dict[str, Any]]:
    """Hold N SSE streams on one process; N = 1,000 (300 with --quick)."""
    n, hold = (300, 8.0) if quick else (1000, 20.0)
    with tempfile.TemporaryDirectory(prefix="pp-bench-sse-") as tmp:
        db_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        upgrade(db_url)
        # The model writes one entry, then stays silent for `hold` seconds before the next.
        with fake_llm(FakeLLMConfig(stall_after=1, stall_seconds=hold)) as (_fake, base):
            env = {"DATABASE_URL": db_url, "WORKER_ENABLED": "false", "LOG_LEVEL": "WARNING",
                   "SPOOL_DIR": str(Path(tmp) / "spool"), "CALENDAR_SERVICE_ENABLED": "true",
                   "LLM_BASE_URL": base, "LLM_API_KEY": "sk-bench", "LLM_MODEL": "fake",
                   "AI_TIMEOUT_SECONDS": str(hold * 4), "SSE_PING_SECONDS": "5",
                   "SSE_SEND_TIMEOUT_SECONDS": "30",
                   # One user holds all N streams on one run: lift the per-process caps.
                   "MAX_STREAMS_PER_RUN": str(n + 10), "MAX_STREAMS_PER_USER": str(n + 10)}
            for name in ("FLAGS_FILE", "PUBLISH_SERVICE_ENABLED", "LOG_FILE"):
                os.environ.pop(name, None)
            with uvicorn_process("postplan.app:build_default_app", env) as (url, pid):
                res = asyncio.run(measure(url, pid, n, hold))
    error_pct = 100.0 * res["errors"] / n
    per_stream_kib = max(res["rss_peak"] - res["rss_before"], 0.0) * 1024 / max(res["attached"], 1)
    return [
        row("sse.held_streams", float(res["attached"]), "streams", better="higher",
            target=f">= {n}", ok=res["attached"] >= n * 0.99),
        row("sse.error_rate_pct", error_pct, "%", target="< 1 %", ok=error_pct < 1.0),
        row("sse.peak_open_streams", res["peak_open"], "streams", better="higher",
            target=f"~{n + 1} (gauge)"),
        row("sse.memory_per_stream_kib", per_stream_kib, "KiB/stream", target="< 150 KiB",
            ok=per_stream_kib < 150),
        row("sse.attach_all_s", res["attach_s"], "s", target=f"{n} streams"),
    ]
