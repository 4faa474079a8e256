"""Pure ASGI middleware (safe for streaming responses): request ids, body limits, HEAD, request
log (with credentials in paths redacted)."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from postplan.core.context import request_id_var
from postplan.core.errors import PROBLEM_CONTENT_TYPE, problem
from postplan.core.logging import get_logger
from postplan.core.redact import redact_path, remember_path_secrets

log = get_logger("postplan.http")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_JSON_TYPES = ("application/json", "application/merge-patch+json", "application/problem+json")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """Assigns the request id, enforces body size and JSON content type, answers HEAD as GET
    without a body, logs each request with secret path segments redacted."""

    def __init__(self, app: ASGIApp, max_body_bytes: int,
                 raw_body_suffixes: tuple[str, ...] = ("/import",),
                 own_limit_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.raw_body_suffixes = raw_body_suffixes
        # Paths whose handlers stream the body under a limit of their own (file uploads, up to
        # gigabytes) and take non-JSON bodies: neither MAX_BODY_BYTES nor the JSON check apply.
        self.own_limit_prefixes = own_limit_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # First, before anything can log: the feed token in the path is a credential, and every
        # line written while this request runs must have it removed (see core/redact.py).
        remember_path_secrets(scope.get("path", ""), scope.get("raw_path"))
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(requestId=request_id)
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        state = {"status": 0, "rejected": False, "ended": False}
        # HEAD is answered wherever GET is: the app sees a GET (on a copy of the scope; the
        # server's own scope still says HEAD, so uvicorn sends no body either), and the
        # response ends right after its headers. Routes declared with GET only would
        # otherwise answer HEAD with 405.
        head = scope.get("method") == "HEAD"
        app_scope: Scope = {**scope, "method": "GET"} if head else scope

        async def send_with_id(message: Message) -> None:
            if state["rejected"] or state["ended"]:
                return  # a 413 (or a HEAD's headers) already went out; the rest is dropped
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
                if head:
                    await send(message)
                    await send({"type": "http.response.body", "body": b"",
                                "more_body": False})
                    state["ended"] = True
                    return
            await send(message)

        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            if state["ended"]:
                # A HEAD is answered: a streaming GET handler behind it stops here.
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    # Answer 413 ourselves and tell the app the client went away, so no
                    # framework layer can turn the overflow into a different status.
                    if state["status"] == 0:
                        await self._problem(send_with_id, request_id, 413, "body_too_large",
                                            "Content too large",
                                            f"request body exceeds {self.max_body_bytes} bytes")
                    state["rejected"] = True
                    return {"type": "http.disconnect"}
            return message

        own_limit = scope.get("path", "").startswith(self.own_limit_prefixes) \
            if self.own_limit_prefixes else False
        try:
            early = None if own_limit else self._precheck(scope)
            if early is not None:
                await self._problem(send_with_id, request_id, *early)
                return
            await self.app(app_scope, receive if own_limit and not head else limited_receive,
                           send_with_id)
        finally:
            path = scope.get("path", "")
            if path not in ("/metrics", "/healthz"):
                log.info(
                    "http.request",
                    method=scope.get("method"),
                    path=redact_path(path),
                    httpStatus=state["status"],
                    durationMs=round((time.perf_counter() - started) * 1000, 2),
                    status=state["status"],
                )
            request_id_var.reset(token)

    def _precheck(self, scope: Scope) -> tuple[int, str, str, str] | None:
        method = scope.get("method", "GET")
        if method not in ("POST", "PUT", "PATCH"):
            return None
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return (413, "body_too_large", "Content too large",
                    f"request body exceeds {self.max_body_bytes} bytes")
        has_body = (length is not None and length != "0") or _header(
            scope, b"transfer-encoding") is not None
        ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        path: str = scope.get("path", "")
        if has_body and ctype not in _JSON_TYPES and not path.endswith(self.raw_body_suffixes):
            return (415, "unsupported_media_type", "Unsupported media type",
                    "send the body as application/json")
        return None

    async def _problem(self, send: Send, request_id: str, status: int, code: str, title: str,
                       detail: str) -> None:
        body = json.dumps(problem(status, code, title, detail, request_id)).encode()
        headers: list[Any] = [
            (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
