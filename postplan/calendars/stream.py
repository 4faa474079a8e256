"""SSE transport for generation runs: tail a run (in memory or from the database), send events.

Headers stop proxy buffering (`X-Accel-Buffering: no`, `Cache-Control: no-cache`); comment pings
keep idle streams open; a client that stops reading is dropped after the send timeout. The stream
never owns the run: closing it (or the client vanishing) leaves the run going.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.types import Receive, Scope, Send

from postplan.calendars.run_events import (
    RunEvent,
    entry_event,
    run_event,
    stream_outcome,
    terminal_events,
)
from postplan.calendars.run_store import RunRef, RunStore
from postplan.calendars.runs import LiveRun, RunRegistry
from postplan.config import Settings
from postplan.core.context import bind
from postplan.core.logging import get_logger
from postplan.core.metrics import SSE_OPEN, SSE_STREAMS
from postplan.core.vocab import RunStatus

log = get_logger(__name__)

#: How often a stream tailing another process's run re-reads the database.
DB_POLL_SECONDS = 0.25
#: Browsers reconnect after this many milliseconds (sent once, with the first event).
RETRY_MS = 3000


class RunEventResponse(EventSourceResponse):
    """An EventSourceResponse that ends quietly when a frozen client hits the send timeout."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            log.warning("sse.send_timeout")


def to_sse(event: RunEvent, retry: int | None = None) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps(event.data, separators=(",", ":"), ensure_ascii=False),
        event=event.event, id=event.id, retry=retry,
    )


def sse_response(events: AsyncIterator[RunEvent], settings: Settings, *,
                 run_id: uuid.UUID | None, calendar_id: uuid.UUID | None,
                 kind: str) -> RunEventResponse:
    """The streaming response for a sequence of run events."""
    return RunEventResponse(
        _observed(events, run_id, calendar_id, kind),
        ping=settings.sse_ping_seconds,
        send_timeout=settings.sse_send_timeout_seconds,
        sep="\n",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        ping_message_factory=lambda: ServerSentEvent(comment="ping"),
    )


async def _observed(events: AsyncIterator[RunEvent], run_id: uuid.UUID | None,
                    calendar_id: uuid.UUID | None, kind: str) -> AsyncIterator[ServerSentEvent]:
    """Metrics and logs around one stream; the first event carries `retry`."""
    fields: dict[str, Any] = {"runId": str(run_id) if run_id else None,
                              "calendarId": str(calendar_id) if calendar_id else None}
    bind(**fields)
    SSE_OPEN.inc()
    started = time.perf_counter()
    seen: set[str] = set()
    status: str | None = None
    sent = 0
    try:
        async for event in events:
            if event.event == "run" and event.data.get("calendarId"):
                fields["calendarId"] = event.data["calendarId"]
                bind(calendarId=fields["calendarId"])
            seen.add(event.event)
            if event.event == "done":
                status = str(event.data.get("status"))
            yield to_sse(event, RETRY_MS if sent == 0 else None)
            sent += 1
    finally:
        SSE_OPEN.dec()
        outcome = stream_outcome(seen, status)
        if kind != "resume":
            # One count per generation: a replay re-sends an outcome already counted (and a
            # browser may reconnect many times), which would skew the error-rate alert.
            SSE_STREAMS.labels(outcome=outcome).inc()
        log.info("sse.stream_end", kind=kind, outcome=outcome, events=sent, status=status,
                 durationMs=round((time.perf_counter() - started) * 1000, 1), **fields)


async def live_events(ref: RunRef, registry: RunRegistry, after_seq: int,
                      *, with_run_event: bool,
                      live: LiveRun | None = None) -> AsyncIterator[RunEvent]:
    """Tail a run executing in this process (falls back to the database once it is gone).

    Pass `live` when the caller holds it: a quick run may finish (and leave the registry)
    before the response starts iterating."""
    if with_run_event:
        yield run_event(ref)
    live = live or registry.get(ref.run_id)
    if live is not None:
        async for event in live.events(after_seq):
            yield event
        return
    async for event in db_events(registry.store, registry, ref.user_id, ref.run_id, after_seq):
        yield event


async def db_events(store: RunStore, registry: RunRegistry | None, user_id: str,
                    run_id: uuid.UUID, after_seq: int) -> AsyncIterator[RunEvent]:
    """Replay a run's saved entries after `after_seq`, tail it while it runs, then `done`.

    Works for runs executing in any process: the run row is read before the entries, so once
    it says the run is settled every entry is already visible. Never generates anything."""
    last = after_seq
    while True:
        live = registry.get(run_id) if registry is not None else None
        if live is not None:
            async for event in live.events(last):
                yield event
            return
        run = await store.get_run(user_id, run_id)
        if run is None:  # deleted meanwhile
            yield RunEvent("error", {"code": "run_not_found", "message": "run not found"})
            return
        for row in await store.entries_after(run_id, user_id, last):
            yield entry_event(run_id, row)
            last = row.seq
        if run.status != RunStatus.running.value:
            for event in terminal_events(run_id, run.status, run.entry_count, run.error):
                yield event
            return
        await asyncio.sleep(DB_POLL_SECONDS)


async def fixed_events(events: list[RunEvent]) -> AsyncIterator[RunEvent]:
    """A precomputed stream (legacy mode)."""
    for event in events:
        yield event
