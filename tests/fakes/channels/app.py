"""The fake's FastAPI app: fault middleware, TikTok routes, the media host, Instagram
routes (in that order: Instagram's `/{version}/{id}` paths would swallow `/media/`).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response

from tests.fakes.channels.faults import _FaultMiddleware
from tests.fakes.channels.instagram import register_instagram
from tests.fakes.channels.state import FakeChannels
from tests.fakes.channels.tiktok import register_tiktok


def build_app(c: FakeChannels) -> FastAPI:
    """The fake's routes over the shared state `c`."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    app.add_middleware(_FaultMiddleware, control=c)

    register_tiktok(app, c)

    @app.api_route("/media/{name}", methods=["GET", "HEAD"])
    async def media_source(name: str, size: int = 1024) -> Response:
        """Deterministic bytes standing in for a creator's video or image host."""
        pattern = bytes(range(256))
        content = (pattern * (size // 256 + 1))[:size]
        ctype = "image/jpeg" if name.endswith((".jpg", ".jpeg")) else "video/mp4"
        return Response(content, media_type=ctype)

    register_instagram(app, c)
    return app
