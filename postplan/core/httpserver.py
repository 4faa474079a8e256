"""The HTTP/1.1 protocol `postplan serve` runs: uvicorn's h11 implementation with two guards
uvicorn does not give by default.

* **Header size.** httptools (uvicorn's default when installed) buffers a request's head without
  any bound: a 64 MiB header was read in full. Here the head may hold at most `MAX_HEADER_BYTES`
  (request line and every header line). h11 stops buffering an incomplete head beyond that bound
  (`max_incomplete_event_size`), and a complete head is measured too, since one socket read can
  deliver a whole oversized head at once. Either way the answer is
  `431 Request Header Fields Too Large` (problem+json, code `headers_too_large`) and the
  connection is closed, before the application sees anything.
* **Header read time.** From the moment a connection is open (or a keep-alive connection is
  ready for its next request) the client has `HEADER_READ_TIMEOUT_SECONDS` to send the whole
  head. Trickling bytes does not extend it (uvicorn's keep-alive timer is reset by every byte;
  this one is not): a slowloris client is answered `408` and disconnected, a silent one is
  disconnected. Bodies and responses (long SSE streams included) are not limited by it.

The guards live in the protocol, so they hold however the server listens (TCP or a Unix socket).
`server_options(settings)` gives the uvicorn options; `uvicorn --http
postplan.core.httpserver:GuardedH11Protocol` uses the same class with limits read from the
environment.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from postplan.config import Settings, get_settings
from postplan.core.errors import PROBLEM_CONTENT_TYPE, problem
from postplan.core.logging import get_logger

log = get_logger("postplan.http")

#: Request line framing: " HTTP/1.1\r\n" after method and target, and the blank line at the end.
_REQUEST_LINE_OVERHEAD = 13
#: Per header line: ": " and "\r\n".
_HEADER_LINE_OVERHEAD = 4


def head_size(event: h11.Request) -> int:
    """The size of a parsed request head, as sent (to within optional whitespace)."""
    size = len(event.method) + len(event.target) + _REQUEST_LINE_OVERHEAD
    for name, value in event.headers:
        size += len(name) + len(value) + _HEADER_LINE_OVERHEAD
    return size


class HeadTooLarge(h11.RemoteProtocolError):
    """A request head over the limit (h11's own "Receive buffer too long" is turned into it)."""


class _LimitedConnection(h11.Connection):
    """An h11 server connection that refuses a request head larger than `max_head_bytes`."""

    def __init__(self, max_head_bytes: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=max_head_bytes)
        self.max_head_bytes = max_head_bytes
        self.head_too_large = False

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            # h11 raises this with hint 431 when an incomplete head outgrows the buffer bound.
            if exc.error_status_hint == 431:
                self.head_too_large = True
            raise
        if isinstance(event, h11.Request) and head_size(event) > self.max_head_bytes:
            self.head_too_large = True
            raise HeadTooLarge("request head too large", error_status_hint=431)
        return event


def _raw_problem(status: int, reason: str, code: str, detail: str) -> bytes:
    """A complete `Connection: close` problem+json response, written before any request exists
    (so no ASGI app, middleware or request id is involved)."""
    body = json.dumps(problem(status, code, reason, detail, None)).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: {PROBLEM_CONTENT_TYPE}\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a bound on request-head size and on the time to send it.

    The limits are class attributes: `guarded_protocol(...)` makes a configured subclass; left
    unset (`None`), they are read from the environment's settings on first use."""

    max_head_bytes: ClassVar[int | None] = None
    head_timeout: ClassVar[float | None] = None

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        cls = type(self)
        if cls.max_head_bytes is None or cls.head_timeout is None:
            settings = get_settings()
            cls.max_head_bytes = settings.max_header_bytes
            cls.head_timeout = settings.header_read_timeout_seconds
        self.limit = cls.max_head_bytes
        self.timeout = cls.head_timeout
        self.conn = _LimitedConnection(self.limit)
        self._head_timer: asyncio.TimerHandle | None = None

    # The head timer runs while the client owes us a request head (h11: their state IDLE). It
    # is armed once per head and never pushed back by arriving bytes.
    def _track_head(self) -> None:
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            self._cancel_head_timer()  # the head is complete (or the connection is done)
        elif self._head_timer is None:
            self._head_timer = self.loop.call_later(self.timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        partial, _closed = self.conn.trailing_data
        if partial.strip():
            log.info("http.header_timeout", limitSeconds=self.timeout, bytesReceived=len(partial))
            self.transport.write(_raw_problem(
                408, "Request Timeout", "header_timeout",
                f"the request headers did not arrive within {self.timeout:g} seconds"))
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._track_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        self._track_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._track_head()  # keep-alive: the next head has the same bound

    def send_400_response(self, msg: str) -> None:
        if not getattr(self.conn, "head_too_large", False):
            super().send_400_response(msg)
            return
        self._cancel_head_timer()
        log.info("http.headers_too_large", limitBytes=self.limit)
        self.transport.write(_raw_problem(
            431, "Request Header Fields Too Large", "headers_too_large",
            f"the request line and headers exceed {self.limit} bytes"))
        self.transport.close()


def guarded_protocol(max_head_bytes: int, head_timeout: float) -> type[GuardedH11Protocol]:
    """A `GuardedH11Protocol` subclass with these limits (one per server, nothing global)."""
    attrs = {"max_head_bytes": max_head_bytes, "head_timeout": head_timeout}
    return type("GuardedH11Protocol", (GuardedH11Protocol,), attrs)


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn options every way `postplan serve` starts a server must pass (TCP or socket)."""
    return {
        "http": guarded_protocol(settings.max_header_bytes, settings.header_read_timeout_seconds),
        # The same bound for h11's incomplete-event buffer, should the class be swapped out.
        "h11_max_incomplete_event_size": settings.max_header_bytes,
    }
