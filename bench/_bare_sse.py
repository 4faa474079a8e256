"""The baseline for the planner's time to first entry: a bare Starlette SSE endpoint that
parses the JSON body and streams `run`, one `entry` and `done` at once (no planning, no
database). `bench_generation` serves it under uvicorn exactly as it serves postplan."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

_ENTRY = {"seq": 1, "entry": {"channel": "tiktok", "format": "video", "hook": "Hello",
                              "caption": "Hello", "hashtags": ["a", "b", "c"]}}


def app_factory() -> Starlette:
    """The bare app (uvicorn --factory)."""

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def calendar(request: Request) -> StreamingResponse:
        body = await request.json()

        async def events() -> AsyncIterator[bytes]:
            yield f"event: run\ndata: {json.dumps({'brand': body.get('brand')})}\n\n".encode()
            yield f"event: entry\nid: r:1\ndata: {json.dumps(_ENTRY)}\n\n".encode()
            yield b"event: done\ndata: {\"status\": \"completed\"}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/healthz", healthz),
                             Route("/v1/ai/calendar", calendar, methods=["POST"])])
