"""A loopback webhook receiver for tests: verifies each delivery with the `standardwebhooks`
library, records it, and answers per a script (`ok`, `500`, or `hang` for some seconds)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Endpoint:
    """One path's script and what it received (`verified` payloads, every raw attempt)."""

    script: list[str] = field(default_factory=list)
    secret: str | None = None
    hang_seconds: float = 2.0
    attempts: list[dict[str, Any]] = field(default_factory=list)
    verified: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


def receiver_app(endpoints: dict[str, Endpoint]) -> FastAPI:
    """An app answering POST /{name} per `endpoints[name]` (a background thread serves it)."""
    app = FastAPI()
    lock = threading.Lock()

    @app.post("/{name}")
    async def receive(name: str, request: Request) -> Response:
        import asyncio

        ep = endpoints[name]
        body = await request.body()
        headers = dict(request.headers)
        with lock:
            action = ep.script.pop(0) if ep.script else "ok"
            ep.attempts.append({"at": time.monotonic(), "action": action})
        if action == "hang":
            await asyncio.sleep(ep.hang_seconds)
            return Response(status_code=504)
        if action == "500":
            return Response(status_code=500, content=b"boom")
        assert ep.secret is not None
        try:
            payload = Webhook(ep.secret).verify(body, headers)
        except WebhookVerificationError:
            return Response(status_code=400, content=b"bad signature")
        with lock:
            ep.verified.append(payload)
            ep.ids.append(headers["webhook-id"])
        return Response(status_code=204)

    return app
