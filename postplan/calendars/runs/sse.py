"""SSE transport for generation runs: a run's events (see `tail`) sent as an event stream.

Headers stop proxy buffering (`X-Accel-Buffering: no`, `Cache-Control: no-cache`); comment pings
keep idle streams open; a client that stops reading is dropped after the send timeout. The stream
never owns the run: closing it (or the client vanishing) leaves the run going (until nobody has
listened for `RUN_ABANDON_SECONDS`, see `executor`). Each stream holds a place in `StreamSlots`
until its response ends.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.types import Receive, Scope, Send

from postplan.calendars.runs.events import RunEvent, stream_outcome
from postplan.config import Settings
from postplan.core.context import bind
from postplan.core.logging import get_logger
from postplan.core.metrics import SSE_OPEN, SSE_STREAMS

log = get_logger(__name__)

#: Browsers reconnect after this many milliseconds (sent once, with the first event).
RETRY_MS = 3000


class RunEventResponse(EventSourceResponse):
    """An EventSourceResponse that ends quietly when a frozen client hits the send timeout,
    and runs `on_close` (gives back the stream's slot) however it ends."""

    on_close: Callable[[], None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            log.warning("sse.send_timeout")
        finally:
            if self.on_close is not None:
                self.on_close()


def to_sse(event: RunEvent, retry: int | None = None) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps(event.data, separators=(",", ":"), ensure_ascii=False),
        event=event.event, id=event.id, retry=retry,
    )


def sse_response(events: AsyncGenerator[RunEvent, None], settings: Settings, *,
                 run_id: uuid.UUID | None, calendar_id: uuid.UUID | None,
                 kind: str, on_close: Callable[[], None] | None = None) -> RunEventResponse:
    """The streaming response for a sequence of run events."""
    response = RunEventResponse(
        _observed(events, run_id, calendar_id, kind),
        ping=settings.sse_ping_seconds,
        send_timeout=settings.sse_send_timeout_seconds,
        sep="\n",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        ping_message_factory=lambda: ServerSentEvent(comment="ping"),
    )
    response.on_close = on_close
    return response


async def _observed(events: AsyncGenerator[RunEvent, None], run_id: uuid.UUID | None,
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
        async with aclosing(events):
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
