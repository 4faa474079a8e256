"""The publishing domain's part of the app lifespan: the channel gateway and, when the app runs
the worker in-process, the publish worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from postplan.publishing.gateway import RegistryGateway
from postplan.publishing.worker.context import WorkerConfig, reconcile_schedule
from postplan.publishing.worker.loop import Worker, worker_engine


@asynccontextmanager
async def _worker(app: FastAPI) -> AsyncIterator[None]:
    """The in-process worker. On Postgres it gets a pool of its own (`worker_engine`): a burst
    of publishing cannot take the connections the API needs."""
    settings = app.state.settings
    config = WorkerConfig(idle_sleep=settings.worker_poll_seconds,
                          reconcile_delays=reconcile_schedule(settings.reconcile_first_seconds))
    engine = app.state.engine
    own = None
    if engine.dialect.name == "postgresql":
        own = engine = worker_engine(settings, config.concurrency)
    try:
        worker = Worker(engine, settings, app.state.flags, app.state.channel_gateway,
                        config=config)
        async with worker.running():
            yield
    finally:
        if own is not None:
            await own.dispose()


@asynccontextmanager
async def publishing_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Install a gateway unless one was given, and run the worker when `app.state.run_worker`."""
    owned: RegistryGateway | None = None
    if getattr(app.state, "channel_gateway", None) is None:
        owned = RegistryGateway(app.state.settings)
        app.state.channel_gateway = owned
    try:
        if app.state.run_worker:
            async with _worker(app):
                yield
        else:
            yield
    finally:
        if owned is not None:
            await owned.aclose()
            app.state.channel_gateway = None
