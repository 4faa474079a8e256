"""SSE clients that vanish at random under load, and one that stops reading.

The app runs under real uvicorn on loopback with the AI path against the fake model (entries
arrive over a second or two, so streams are open long enough to be cut). 40 clients start
generations at once; each hangs up after a random number of events (some read to the end);
one more client opens a long stream on a tiny receive buffer and never reads. What must hold:
every run settles (no `running` row left, the stream never owned the run); the open-streams
gauge returns to 0; the server loop's task count returns to its baseline (no leaked tasks);
the process's RSS comes back within a bound.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from postplan.core.metrics import SSE_OPEN
from tests.fakes.llm_server import FakeLLMConfig, fake_llm
from tests.fixtures.apps import build_app, live_server, make_settings
from tests.fixtures.databases import sqlite_url

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

BRIEF = {"brand": "Acme Coffee", "startDate": "2026-12-01", "days": 14,
         "channels": ["tiktok", "instagram"]}
LONG_BRIEF = {**BRIEF, "days": 92, "postsPerWeek": 7}
CLIENTS = 40
RSS_SLACK_MIB = 30.0


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def loop_probe(app: FastAPI) -> Any:
    """A lifespan hook that records the server's event loop, to count its tasks later."""

    @asynccontextmanager
    async def hook(_app: FastAPI) -> AsyncIterator[None]:
        app.state.server_loop = asyncio.get_running_loop()
        yield

    return hook


def server_tasks(app: FastAPI) -> int:
    loop: asyncio.AbstractEventLoop = app.state.server_loop

    async def count() -> int:
        return len(asyncio.all_tasks())

    return asyncio.run_coroutine_threadsafe(count(), loop).result(timeout=10)


async def flaky_client(client: httpx.AsyncClient, rng: random.Random) -> str:
    """Start a generation and hang up after a random number of events (or read it all)."""
    stop_after = rng.choice([0, 1, 2, 3, 5, 8, 13, None, None])
    seen = 0
    try:
        async with client.stream("POST", "/v1/ai/calendar", json=BRIEF) as resp:
            if resp.status_code != 200:
                return f"status {resp.status_code}"
            async for line in resp.aiter_lines():
                if line.startswith("event:"):
                    seen += 1
                    if stop_after is not None and seen > stop_after:
                        return "dropped"
        return "completed"
    except httpx.HTTPError as exc:
        return f"error {type(exc).__name__}"


def frozen_client(port: int) -> socket.socket:
    """Send a long generation request on a 4 KiB receive buffer, then never read."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    body = json.dumps(LONG_BRIEF).encode()
    sock.sendall(b"POST /v1/ai/calendar HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nAccept: text/event-stream\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return sock


async def runs_by_status(db: str) -> dict[str, int]:
    engine = create_async_engine(db)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT status, count(*) FROM calendar_runs GROUP BY status"))).all()
    finally:
        await engine.dispose()
    return {r[0]: int(r[1]) for r in rows}


async def eventually(cond: Any, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await cond():
            return True
        await asyncio.sleep(0.2)
    return bool(await cond())


@pytest.fixture
def db(tmp_path: Path) -> str:
    return sqlite_url(tmp_path)


async def test_random_drops_and_a_frozen_reader_leak_nothing(tmp_path: Path, db: str) -> None:
    rng = random.Random(20261125)
    with fake_llm(FakeLLMConfig(entry_delay=0.03, piece=200)) as (_fake, base_url):
        settings = make_settings(db, CALENDAR_SERVICE_ENABLED=True, LLM_BASE_URL=base_url,
                                 LLM_API_KEY="sk-fake", LLM_MODEL="fake-model",
                                 SPOOL_DIR=str(tmp_path / "spool"),
                                 SSE_SEND_TIMEOUT_SECONDS=2, SSE_PING_SECONDS=1,
                                 # One user drives all the load here: lift the per-user bounds.
                                 MAX_CONCURRENT_RUNS_PER_USER=4 * CLIENTS,
                                 MAX_STREAMS_PER_USER=4 * CLIENTS)
        app = build_app(settings)
        app.state.lifespan_hooks.append(loop_probe(app))
        with live_server(app) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
                # A warm-up round of the same load (imports, caches, allocator arenas), then
                # the baseline: a second round must not leave more behind than the first.
                warm = await asyncio.gather(*(flaky_client(client, random.Random(i))
                                              for i in range(CLIENTS)))
                assert all(o in ("completed", "dropped") for o in warm), warm
                await asyncio.sleep(2.0)
                gc.collect()
                baseline_tasks = server_tasks(app)
                baseline_rss = rss_mib()

                frozen = frozen_client(server.port)
                outcomes = await asyncio.gather(*(flaky_client(client, rng)
                                                  for _ in range(CLIENTS)))
                assert all(o in ("completed", "dropped") for o in outcomes), outcomes
                assert outcomes.count("dropped") >= CLIENTS // 3

                # Every run settles on its own: the streams never owned them.
                async def settled() -> bool:
                    statuses = await runs_by_status(db)
                    return statuses.get("running", 0) == 0 and sum(statuses.values()) >= 2 * CLIENTS

                assert await eventually(settled, 60), await runs_by_status(db)
                # The frozen reader is cut by the send timeout, not kept forever.
                async def no_open_streams() -> bool:
                    return bool(SSE_OPEN._value.get() == 0)

                assert await eventually(no_open_streams, 30), SSE_OPEN._value.get()
                frozen.close()

                async def tasks_back() -> bool:
                    return server_tasks(app) <= baseline_tasks + 2

                assert await eventually(tasks_back, 15), (server_tasks(app), baseline_tasks)
                final_tasks = server_tasks(app)
                gc.collect()
                grown = rss_mib() - baseline_rss
                statuses = await runs_by_status(db)
    assert grown < RSS_SLACK_MIB, f"RSS grew {grown:.1f} MiB"
    assert set(statuses) <= {"completed", "partial", "cancelled", "failed"}, statuses
    print(f"\nsse-drops: outcomes={ {o: outcomes.count(o) for o in set(outcomes)} } "
          f"runs={statuses} tasks {baseline_tasks}->{final_tasks} "
          f"rss +{grown:.1f} MiB")
