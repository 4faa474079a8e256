"""Webhook delivery must not slow publishing (issue 15, Speed).

One run, one Postgres, one process (as `postplan worker` runs them: the publish worker and the
webhook delivery loop on one event loop). Live publishing against the in-memory fake platform
(50 ms added to every request) is timed twice, alternating:

* without webhooks;
* with every user subscribed to 2 webhooks on a loopback receiver (uvicorn in a thread), one
  answering at once, one hanging 5 s — past `WEBHOOK_TIMEOUT_SECONDS` (1 s here), so every one
  of its deliveries times out and is retried — while the delivery loop runs beside the worker.

The figure is the ratio of posts/s with webhooks to posts/s without (target >= 0.95); the best
of the rounds of each kind is kept, the box being shared. Each phase uses its own users, so
both publish the same number of fresh posts.

    .venv/bin/python -m bench.bench_webhooks [--quick]
    .venv/bin/python -m bench.run --only webhooks
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from bench.helpers import row

ROOT = Path(__file__).resolve().parent.parent


def _receiver() -> Any:
    from fastapi import FastAPI, Response

    app = FastAPI()
    hits = {"fast": 0, "slow": 0}

    @app.post("/fast")
    async def fast() -> Response:
        hits["fast"] += 1
        return Response(status_code=204)

    @app.post("/slow")
    async def slow() -> Response:
        hits["slow"] += 1
        await asyncio.sleep(5)
        return Response(status_code=204)

    app.state.hits = hits
    return app


def _phase_settings(url: str) -> Any:
    from bench.bench_publish import _settings
    from tests.fakes.channels_server import IN_MEMORY_BASE
    from tests.publishing.fake_gateway import fake_env

    return _settings(url, PUBLISH_SERVICE_ENABLED=True, DATABASE_POOL_SIZE=40,
                     WEBHOOK_TIMEOUT_SECONDS=1.0, WEBHOOK_POLL_SECONDS=0.1,
                     WEBHOOK_RETRY_BASE_SECONDS=0.5, **fake_env(IN_MEMORY_BASE))


async def _subscribe(url: str, users: list[str], receiver: str) -> None:
    from postplan.core.db import create_engine, create_sessionmaker
    from postplan.notifications import store

    settings = _phase_settings(url)
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            for user in users:
                for path in ("fast", "slow"):
                    await store.create_webhook(session, settings, user,
                                               f"{receiver}/{path}", None)
            await session.commit()
    finally:
        await engine.dispose()


async def _phase(url: str, transport: Any, control: Any, queued: int, *,
                 webhooks: bool, concurrency: int) -> dict[str, float]:
    import httpx

    from bench.bench_publish import _count
    from postplan.core.flags import FlagService
    from postplan.notifications.delivery import DeliveryLoop
    from postplan.publishing.worker.context import WorkerConfig
    from postplan.publishing.worker.loop import Worker, worker_engine
    from tests.fakes.channels_server import IN_MEMORY_BASE
    from tests.publishing.fake_gateway import FakePlatformGateway

    settings = _phase_settings(url)
    engine = worker_engine(settings, concurrency)
    before = (await _count(url)).get("published", 0)
    loop = DeliveryLoop(engine, settings) if webhooks else None
    async with httpx.AsyncClient(transport=transport, base_url=IN_MEMORY_BASE) as http:
        gateway = FakePlatformGateway(http, IN_MEMORY_BASE)
        worker = Worker(engine, settings, FlagService(settings), gateway,
                        config=WorkerConfig(concurrency=concurrency, poll_delays=(0.05,),
                                            idle_sleep=0.02))
        stop = asyncio.Event()
        started = time.perf_counter()
        tasks = [asyncio.create_task(worker.run(stop))]
        if loop is not None:
            tasks.append(asyncio.create_task(loop.run(stop)))
        published = 0
        while time.perf_counter() - started < 300:
            await asyncio.sleep(0.1)
            counts = await _count(url)
            published = counts.get("published", 0) - before
            if published >= queued:
                break
        elapsed = time.perf_counter() - started
        deliveries = await _deliveries(engine) if loop is not None else {}
        stop.set()
        await asyncio.gather(*tasks)
    if loop is not None:
        await loop.aclose()
    await engine.dispose()
    return {"published": published, "seconds": elapsed,
            "per_s": published / elapsed if elapsed else 0.0, **deliveries}


async def _deliveries(engine: Any) -> dict[str, float]:
    from sqlalchemy import func, select

    from postplan.models import WebhookDelivery

    async with engine.connect() as conn:
        rows = (await conn.execute(select(WebhookDelivery.status, func.count())
                                   .group_by(WebhookDelivery.status))).all()
    return {f"deliveries_{r[0]}": float(r[1]) for r in rows}


def _measure(users: int, rounds: int, concurrency: int) -> tuple[list[dict[str, float]],
                                                                list[dict[str, float]]]:
    from bench.bench_publish import Database, _queue_live
    from tests.fakes.channels_server import (
        IN_MEMORY_BASE,
        FakeChannelsConfig,
        in_memory_channels,
    )
    from tests.fixtures.apps import LiveServer

    transport, control = in_memory_channels(FakeChannelsConfig(latency=0.05,
                                                               ig_processing_polls=0))

    class _Fake:
        url = IN_MEMORY_BASE

        def __init__(self) -> None:
            self.control = control

    plain: list[dict[str, float]] = []
    hooked: list[dict[str, float]] = []
    receiver = LiveServer(_receiver())
    receiver.start()
    try:
        with Database("postgres") as db:
            n = 0
            for r in range(rounds):
                for kind in ("plain", "hooked"):
                    names = [f"bench-{n + i}" for i in range(users)]
                    n += users
                    queued = asyncio.run(_queue_live(db.url, _Fake(), names))
                    if kind == "hooked":
                        asyncio.run(_subscribe(db.url, names, receiver.url))
                    result = asyncio.run(_phase(db.url, transport, control, queued,
                                                webhooks=kind == "hooked",
                                                concurrency=concurrency))
                    (hooked if kind == "hooked" else plain).append(result)
                    print(f"round {r} {kind}: {result}", file=sys.stderr)
    finally:
        receiver.stop()
    return plain, hooked


def run(quick: bool) -> list[dict[str, Any]]:
    """The shared bench protocol (bench/README.md)."""
    sys.path.insert(0, str(ROOT))
    from postplan.core.logging import configure_logging

    configure_logging("WARNING")
    users = 150 if quick else 400
    plain, hooked = _measure(users=users, rounds=2 if quick else 3, concurrency=64)
    best_plain = max(p["per_s"] for p in plain)
    best_hooked = max(h["per_s"] for h in hooked)
    ratio = best_hooked / best_plain if best_plain else 0.0
    return [
        row("webhooks.live_posts_per_s_with_2_webhooks", best_hooked, "ops/s",
            baseline=best_plain, target="ratio >= 0.95 (one endpoint hanging)",
            better="higher", ok=ratio >= 0.95),
        row("webhooks.publish_ratio_with_webhooks", ratio, "ratio", target=">= 0.95",
            better="higher", ok=ratio >= 0.95),
    ]


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        base = f" (baseline {r['baseline']:.1f}, ratio {r['ratio']})" if r["baseline"] else ""
        print(f"{r['name']:44} {r['value']:>10.2f} {r['unit']:<6} target {r['target']}{base}")
