"""The media domain's part of the app lifespan: its resources, and the processing job."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from postplan.media.processing import running
from postplan.media.resources import build_resources
from postplan.media.storage import LocalStore


@asynccontextmanager
async def media_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Install `app.state.media`; clear partial files a crash left; run the processing job
    (MEDIA_PROCESSING_ENABLED)."""
    settings = app.state.settings
    res = build_resources(settings)
    app.state.media = res
    if isinstance(res.store, LocalStore):
        res.store.sweep_partials()
    try:
        if settings.media_processing_enabled:
            async with running(app.state.engine, res):
                yield
        else:
            yield
    finally:
        await res.store.aclose()
