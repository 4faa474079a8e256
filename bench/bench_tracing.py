"""Tracing off costs nothing measurable: `span()` with no exporter against a bare
`nullcontext()`, per call, in the same process; and that per-call cost as a share of the
cheapest request the app serves (`/healthz` in-process)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from postplan.core import tracing


def _per_call_ns(make: Any, n: int) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter_ns()
        for _ in range(n):
            with make("publish.job", channel="tiktok"):
                pass
        best = min(best, (time.perf_counter_ns() - started) / n)
    return best


def _bare(_name: str, **_attrs: Any) -> contextlib.nullcontext[None]:
    return contextlib.nullcontext()


async def _healthz_us(n: int) -> float:
    import httpx

    from postplan.app import create_app
    from postplan.config import Settings

    app = create_app(Settings(_env_file=None, DATABASE_URL="sqlite+aiosqlite:///:memory:"),  # type: ignore[call-arg]
                     migrate=False, run_worker=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        started = time.perf_counter()
        for _ in range(n):
            await client.get("/healthz")
        return (time.perf_counter() - started) / n * 1e6


def run(quick: bool) -> list[dict[str, Any]]:
    """Figures: span() off vs nullcontext (ns/call), and its share of a /healthz request."""
    assert not tracing.tracing_on(), "the bench measures tracing off"
    n = 20_000 if quick else 200_000
    off = _per_call_ns(tracing.span, n)
    bare = _per_call_ns(_bare, n)
    request_us = asyncio.run(_healthz_us(200 if quick else 2000))
    share = off / 1000 / request_us * 100
    return [
        {"name": "tracing.off_span_ns", "value": round(off, 1), "unit": "ns",
         "baseline": round(bare, 1), "ratio": round(off / bare, 2),
         "target": "no exporter: a generator context manager's cost"},
        {"name": "tracing.off_share_of_request_pct", "value": round(share, 3), "unit": "%",
         "baseline": None, "ratio": None, "target": "< 1 % of a /healthz request",
         "ok": share < 1.0},
    ]
