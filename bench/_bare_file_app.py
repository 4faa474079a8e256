"""The baseline for bench_media's Range figure: Starlette's bare FileResponse serving one file
(no middleware, auth, database or signing)."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse
from starlette.routing import Route


def app_factory() -> Starlette:
    path = os.environ["BENCH_FILE"]

    async def content(_request: Request) -> FileResponse:
        return FileResponse(path, media_type="video/mp4")

    async def healthz(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/file", content), Route("/healthz", healthz)])
