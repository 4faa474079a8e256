"""Playing scripted faults: the ASGI middleware that records calls and answers with
hangs, drops or errors, and the socket tracking that lets a fault drop a connection.
"""

from __future__ import annotations

import asyncio

import httpx
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tests.fakes.channels.responses import _fault_response
from tests.fakes.channels.state import FakeChannels, Fault

# -- socket control: "accept then drop" needs the raw transport ---------------------------------

_TRANSPORTS: dict[tuple[str, int], asyncio.Transport] = {}


class _TrackingHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, remembering each connection's transport by peer address
    so a fault can abort it (no response at all, as a reset connection looks to a client)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        if peer:
            _TRANSPORTS[(peer[0], peer[1])] = transport

    def connection_lost(self, exc: Exception | None) -> None:
        peer = self.transport.get_extra_info("peername") if self.transport else None
        if peer:
            _TRANSPORTS.pop((peer[0], peer[1]), None)
        super().connection_lost(exc)


def _abort(scope: Scope) -> None:
    """Close the socket without a response. In process (httpx.ASGITransport) there is no
    socket, so raise the error httpx would have raised for a reset connection."""
    client = scope.get("client")
    transport = _TRANSPORTS.get((client[0], client[1])) if client else None
    if transport is None:
        raise httpx.ReadError("the fake dropped the connection")
    transport.abort()


class _FaultMiddleware:
    """Pure ASGI (cheaper than BaseHTTPMiddleware): records calls, adds latency, plays faults."""

    def __init__(self, app: ASGIApp, control: FakeChannels) -> None:
        self.app = app
        self.c = control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        c, path, method = self.c, scope["path"], scope["method"]
        query = scope.get("query_string", b"").decode()
        with c.lock:
            c.calls.append((method, path))
        if c.config.latency:
            await asyncio.sleep(c.config.latency)
        fault = c.match_fault(method, path + ("?" + query if query else ""))
        if fault is None:
            await self.app(scope, receive, send)
            return
        response: Response
        if fault.kind == "hang":
            await asyncio.sleep(c.config.hang_seconds)
            response = Response(status_code=504)
        elif fault.kind == "drop":
            _abort(scope)
            response = Response(status_code=599)  # dropped by the closed transport
        elif fault.kind in ("drop_after", "error_after"):

            async def discard(message: Message) -> None:
                return None

            await self.app(scope, receive, discard)  # the side effect happens here
            if fault.kind == "drop_after":
                _abort(scope)
                response = Response(status_code=599)
            else:
                response = _fault_response(Fault(path, status=500), path)
        else:
            response = _fault_response(fault, path)
        await response(scope, receive, send)
