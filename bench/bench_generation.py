"""Generation speed: planner time-to-first-entry and 30-day completion, AI per-entry delay.

* Planner: `POST /v1/ai/calendar` against `postplan serve`-style uvicorn in a child process on
  127.0.0.1 with a temporary SQLite database, a 30-day two-channel brief, N runs. Time from sending
  the request to the first `entry` event (TTFE) and to `done` (the whole calendar saved and sent).
  The baseline for TTFE is the naive "send nothing until the calendar is complete" design, whose
  first entry would arrive at the `done` time.
  The planner's own compute for the same calendar, in this process, is the baseline for the
  completion time (the ratio is the cost of saving and streaming).
* AI: the same server with LLM_BASE_URL pointing at the fake OpenAI-compatible model (in this
  process, on loopback), which finishes one entry every 300 ms. Per entry: the time between the
  fake handing the entry's closing brace to its socket and the entry's SSE event being parsed by
  the client (both on CLOCK_MONOTONIC via `time.perf_counter`). Baseline: a naive client that
  waits for the whole answer and then parses it, measured against the same fake in this process.

    .venv/bin/python -m bench.bench_generation [--quick]     # prints a table
    .venv/bin/python -m bench.run --only generation          # the shared runner
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.helpers import row
from bench.servers import uvicorn_process
from postplan.core.logging import configure_logging
from postplan.core.migrate import upgrade
from postplan.generation.planner import plan_entries, warm_up
from postplan.generation.schemas import Brief
from tests.fakes.llm_server import FakeLLMConfig, fake_llm

BRIEF_30: dict[str, Any] = {"brand": "Acme Coffee", "niche": "specialty coffee",
                            "startDate": "2026-12-01", "days": 30, "timezone": "Europe/Berlin",
                            "channels": ["tiktok", "instagram"], "country": "DE"}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def _one_stream(client: httpx.AsyncClient, body: dict[str, Any]
                      ) -> tuple[float, float, list[tuple[int, float]]]:
    """(ms to first entry, ms to done, [(seq, perf_counter at arrival)])."""
    arrivals: list[tuple[int, float]] = []
    start = time.perf_counter()
    first = done = 0.0
    event = ""
    async with client.stream("POST", "/v1/ai/calendar", json=body) as response:
        assert response.status_code == 200, response.status_code
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                now = time.perf_counter()
                if event == "entry":
                    if not first:
                        first = (now - start) * 1000
                    arrivals.append((int(json.loads(line[5:])["seq"]), now))
                elif event == "done":
                    done = (now - start) * 1000
    return first, done, arrivals


def _server_env(db_path: Path, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{db_path}", "CALENDAR_SERVICE_ENABLED": "true",
            "LOG_LEVEL": "WARNING", "WORKER_ENABLED": "false", "AUTH_MODE": "dev",
            "SPOOL_DIR": str(db_path.parent / "spool"), **extra}


async def _planner(url: str, runs: int) -> tuple[list[float], list[float]]:
    firsts: list[float] = []
    dones: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for i in range(runs + 3):
            first, done, _ = await _one_stream(client, BRIEF_30)
            if i >= 3:  # warm-up
                firsts.append(first)
                dones.append(done)
    return firsts, dones


async def _ai(url: str, fake: Any, brief: dict[str, Any], runs: int) -> list[float]:
    delays: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for _ in range(runs):
            _, _, arrivals = await _one_stream(client, brief)
            completed = list(fake.completed_at)
            for seq, at in arrivals:
                if seq <= len(completed):  # entries the model wrote (not planner fill-ins)
                    delays.append((at - completed[seq - 1]) * 1000)
    return delays


async def _naive(base_url: str, fake: Any, brief: dict[str, Any], runs: int) -> list[float]:
    """Wait for the whole answer, then parse it: the delay each entry would have had."""
    from postplan.generation.planner import plan_slots
    from postplan.generation.providers.prompt import build_messages

    parsed = Brief.model_validate(brief)
    body = {"model": "fake", "stream": True,
            "messages": build_messages(parsed, plan_slots(parsed))}
    delays: list[float] = []
    async with httpx.AsyncClient(timeout=120) as client:
        for _ in range(runs):
            text = ""
            async with client.stream("POST", base_url + "/v1/chat/completions",
                                     json=body) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data:") and "[DONE]" not in line:
                        chunk = json.loads(line[5:])
                        text += chunk["choices"][0]["delta"].get("content") or ""
            entries = json.loads(text)
            now = time.perf_counter()
            completed = list(fake.completed_at)
            delays += [(now - completed[i]) * 1000 for i in range(len(entries))]
    return delays


def run(quick: bool) -> list[dict[str, Any]]:
    """Rows in the bench protocol (see bench/README.md)."""
    configure_logging("WARNING")
    planner_runs = 20 if quick else 100
    ai_runs = 1 if quick else 3
    ai_brief = {**BRIEF_30, "days": 7 if quick else 14}
    rows: list[dict[str, Any]] = []
    parsed = Brief.model_validate(BRIEF_30)
    warm_up()  # the server warms up at start-up too
    plan_entries(parsed)
    started = time.perf_counter()
    for _ in range(20):
        plan_entries(parsed)
    compute_ms = (time.perf_counter() - started) * 1000 / 20

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        upgrade(f"sqlite+aiosqlite:///{db}")
        with uvicorn_process("postplan.app:build_default_app", _server_env(db)) as (url, _pid):
            firsts, dones = asyncio.run(_planner(url, planner_runs))
        # Issue 16: the first entry within 3x of a bare Starlette SSE endpoint, same run.
        with uvicorn_process("bench._bare_sse:app_factory", {}) as (bare_url, _pid):
            bare_firsts, _ = asyncio.run(_planner(bare_url, planner_runs))
        p50_first, p50_done = statistics.median(firsts), statistics.median(dones)
        p50_bare = statistics.median(bare_firsts)
        rows.append(row("generation.planner.first_entry_vs_bare_sse_p50_ms", p50_first, "ms",
                        baseline=p50_bare, target="ratio <= 3",
                        ok=p50_first <= 3 * p50_bare))
        rows.append(row("generation.planner.first_entry_p50_ms", p50_first, "ms",
                        baseline=p50_done, target="<= 20 ms", ok=p50_first <= 20))
        rows.append(row("generation.planner.first_entry_p95_ms", _pct(firsts, 0.95), "ms",
                        baseline=_pct(dones, 0.95)))
        rows.append(row("generation.planner.complete_30d_p50_ms", p50_done, "ms",
                        baseline=compute_ms, target="<= 100 ms", ok=p50_done <= 100))
        rows.append(row("generation.planner.complete_30d_p95_ms", _pct(dones, 0.95), "ms",
                        baseline=compute_ms))

        with fake_llm(FakeLLMConfig(entry_delay=0.3)) as (fake, llm_url):
            db2 = Path(tmp) / "bench-ai.db"
            upgrade(f"sqlite+aiosqlite:///{db2}")
            env = _server_env(db2, LLM_BASE_URL=llm_url, AI_TIMEOUT_SECONDS="300")
            with uvicorn_process("postplan.app:build_default_app", env) as (url, _pid):
                delays = asyncio.run(_ai(url, fake, ai_brief, ai_runs))
            naive = asyncio.run(_naive(llm_url, fake, ai_brief, ai_runs))
        p50, naive_p50 = statistics.median(delays), statistics.median(naive)
        rows.append(row("generation.ai.entry_delay_p50_ms", p50, "ms", baseline=naive_p50,
                        target="<= 50 ms", ok=p50 <= 50))
        rows.append(row("generation.ai.entry_delay_p95_ms", _pct(delays, 0.95), "ms",
                        baseline=_pct(naive, 0.95), target="<= 50 ms",
                        ok=_pct(delays, 0.95) <= 50))
        rows.append(row("generation.ai.entry_delay_max_ms", max(delays), "ms",
                        baseline=max(naive)))
    return rows


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    rows = run("--quick" in sys.argv)
    load = os.getloadavg()
    table = Table(title=f"generation bench (load average {load[0]:.1f} on {os.cpu_count()} CPUs)")
    for column in ("figure", "value", "baseline", "ratio", "target", "ok"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["name"], f"{r['value']:.2f} {r['unit']}",
                      "" if r["baseline"] is None else f"{r['baseline']:.2f}",
                      "" if r["ratio"] is None else f"{r['ratio']:.3f}",
                      r["target"] or "", "" if "ok" not in r else str(r["ok"]))
    Console().print(table)


if __name__ == "__main__":
    main()
