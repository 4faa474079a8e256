"""Pure ASGI middleware (safe for streaming responses): request ids, body limits, request log."""

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

log = get_logger("postplan.http")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_JSON_TYPES = ("application/json", "application/merge-patch+json", "application/problem+json")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContextMiddleware:
    """Assigns the request id, enforces body size and JSON content type, logs each request."""

    def __init__(self, app: ASGIApp, max_body_bytes: int,
                 raw_body_suffixes: tuple[str, ...] = ("/import",)) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.raw_body_suffixes = raw_body_suffixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(requestId=request_id)
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        state = {"status": 0, "rejected": False}

        async def send_with_id(message: Message) -> None:
            if state["rejected"]:
                return  # a 413 already went out; whatever the app says afterwards is dropped
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
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

        try:
            early = self._precheck(scope)
            if early is not None:
                await self._problem(send_with_id, request_id, *early)
                return
            await self.app(scope, limited_receive, send_with_id)
        finally:
            path = scope.get("path", "")
            if path not in ("/metrics", "/healthz"):
                log.info(
                    "http.request",
                    method=scope.get("method"),
                    path=path,
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
