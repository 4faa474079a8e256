"""Streams resuming a run that executes elsewhere share one database tail per run and process.

The run here is orphaned (`running` in the database, executed by no process), the case where
every stream would otherwise poll the database on its own: the reads per second must not grow
with the number of streams, and all of them must still get the run's end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from postplan.config import Settings
from tests.fakes.sse_client import execute, live_app, read_stream, until

pytestmark = [pytest.mark.timeout(60), pytest.mark.live]

BRIEF: dict[str, Any] = {"brand": "Acme", "startDate": "2026-12-01", "days": 7,
                         "channels": ["tiktok"]}
POLL_SECONDS = 0.1
WINDOW_SECONDS = 1.0
#: One narrow read of the run row per poll, whatever the number of streams (no entries are
#: written during the window, so no entry reads), plus slack for a poll at each window edge.
READ_BOUND = int(WINDOW_SECONDS / POLL_SECONDS) + 2


class Reads:
    """SELECTs on the run tables issued by one app's engine."""

    def __init__(self, app: FastAPI) -> None:
        self.count = 0

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            text = statement.lstrip().upper()
            if text.startswith("SELECT") and ("CALENDAR_RUNS" in text
                                              or "CALENDAR_ENTRIES" in text):
                self.count += 1

        event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)


async def events_of(resp: httpx.Response) -> AsyncIterator[str]:
    """Event names as they arrive on a held stream."""
    async for line in resp.aiter_lines():
        if line.startswith("event:"):
            yield line.split(":", 1)[1].strip()


async def test_reads_for_k_streams_do_not_grow_with_k(
    settings_factory: Callable[..., Settings], db_url: str
) -> None:
    settings = settings_factory(CALENDAR_SERVICE_ENABLED=True,
                                RUN_TAIL_POLL_SECONDS=POLL_SECONDS,
                                RUN_TAIL_POLL_MAX_SECONDS=POLL_SECONDS,
                                MAX_STREAMS_PER_RUN=50, MAX_STREAMS_PER_USER=50)
    async with live_app(settings) as (app, client):
        done = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF)
        run_id = done[0].data["runId"]
        entries = done[-1].data["entryCount"]
        # Orphan it: `running` again (fresh heartbeat), but no process executes it.
        await execute(db_url, "UPDATE calendar_runs SET status = 'running', finished_at = NULL")
        reads = Reads(app)
        registry = app.state.generation
        url = f"/v1/ai/calendar/runs/{run_id}/events"
        per_window: dict[int, int] = {}
        tails_open: dict[int, int] = {}
        tails_left: dict[int, bool] = {}
        for k in (1, 20):
            async with AsyncExitStack() as stack:
                streams = []
                for _ in range(k):
                    resp = await stack.enter_async_context(client.stream("GET", url))
                    assert resp.status_code == 200
                    names = events_of(resp)
                    # Attached once it has replayed what is saved: `run`, then the entries.
                    got = [await anext(names) for _ in range(1 + entries)]
                    assert got == ["run"] + ["entry"] * entries
                    streams.append(names)
                tails_open[k] = len(getattr(registry, "tails", ()))
                before = reads.count
                await asyncio.sleep(WINDOW_SECONDS)
                per_window[k] = reads.count - before
                if k == 20:
                    # The run ends elsewhere: every stream hears it from the one tail.
                    await execute(db_url, "UPDATE calendar_runs SET status = 'completed'")
                    for names in streams:
                        assert await anext(names) == "done"
            # Every stream left: the tail stops.
            tails_left[k] = await until(lambda: len(getattr(registry, "tails", ())) == 0)
    print(f"\nresume tail: selects in {WINDOW_SECONDS:g} s by number of streams: {per_window}")
    for k, count in per_window.items():
        assert count <= READ_BOUND, (k, per_window)
    assert tails_open == {1: 1, 20: 1}  # one tail for all k streams
    assert tails_left == {1: True, 20: True}
