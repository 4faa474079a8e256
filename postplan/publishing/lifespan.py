"""The publishing domain's part of the app lifespan: the channel gateway and, when the app runs
the worker in-process, the publish worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from postplan.publishing.gateway import RegistryGateway


@asynccontextmanager
async def publishing_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Install a gateway unless one was given, and run the worker when `app.state.run_worker`."""
    owned: RegistryGateway | None = None
    if getattr(app.state, "channel_gateway", None) is None:
        owned = RegistryGateway(app.state.settings)
        app.state.channel_gateway = owned
    try:
        if app.state.run_worker:
            from postplan.publishing.worker import Worker

            worker = Worker(app.state.engine, app.state.settings, app.state.flags,
                            app.state.channel_gateway)
            async with worker.running():
                yield
        else:
            yield
    finally:
        if owned is not None:
            await owned.aclose()
            app.state.channel_gateway = None
