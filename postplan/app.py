"""Application factory: lifespan resources, middleware, error handlers, routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from postplan import __version__
from postplan.alerts import alerts_lifespan
from postplan.api import api_router
from postplan.calendars.runs.registry import generation_lifespan
from postplan.config import AuthMode, Settings, get_settings
from postplan.core import handlers, openapi
from postplan.core.auth import Authenticator
from postplan.core.db import create_engine, create_sessionmaker
from postplan.core.flags import FlagService
from postplan.core.logging import configure_logging, get_logger
from postplan.core.metrics import set_build_info
from postplan.core.middleware import RequestContextMiddleware
from postplan.core.migrate import upgrade_async
from postplan.core.retention import pruning
from postplan.core.tracing import TracingMiddleware, configure_tracing, shutdown_tracing
from postplan.health.endpoints import router as health_router
from postplan.media.lifespan import media_lifespan
from postplan.notifications.delivery import delivery_lifespan
from postplan.publishing.intake.spooled import spool_lifespan
from postplan.publishing.lifespan import publishing_lifespan
from postplan.web.endpoints import router as web_router

log = get_logger("postplan.app")


def create_app(settings: Settings | None = None, *, migrate: bool | None = None,
               run_worker: bool | None = None) -> FastAPI:
    """Build the ASGI app.

    `migrate` defaults to True on SQLite (the embedded default migrates itself) and False on
    Postgres, where `postplan migrate` is a deliberate release step.
    """
    settings = settings or get_settings()
    do_migrate = settings.is_sqlite if migrate is None else migrate
    start_worker = settings.worker_enabled if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if do_migrate:
            await upgrade_async(settings.database_url)
        engine = create_engine(settings.database_url,
                               disable_statement_cache=settings.database_disable_statement_cache,
                               pool_size=settings.database_pool_size)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        # Every write path's sessions: SQLite's write lock is taken before the first read.
        app.state.write_sessionmaker = create_sessionmaker(engine, write=True)
        async with AsyncExitStack() as stack:
            for hook in app.state.lifespan_hooks:
                await stack.enter_async_context(hook(app))
            log.info("app.started", version=__version__, deployId=settings.deploy_id,
                     database=engine.dialect.name, worker=start_worker)
            if settings.auth_mode is AuthMode.dev and settings.dev_auth_trusted_networks:
                log.warning("auth.dev_trusted_networks",
                            networks=[str(n) for n in settings.dev_auth_trusted_networks],
                            detail="AUTH_MODE=dev trusts X-User-Id from these networks")
            try:
                yield
            finally:
                log.info("app.stopping")
        await engine.dispose()
        shutdown_tracing()  # flush the last spans

    app = FastAPI(
        title="postplan",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    set_build_info(settings.deploy_id)
    app.state.authenticator = Authenticator(settings)
    app.state.flags = FlagService(settings)
    app.state.run_worker = start_worker
    # Async context managers that run for the app's lifetime, entered in this order (the spool
    # drains through the publishing gateway, so it comes after it).
    app.state.lifespan_hooks = [
        app.state.flags.watch,
        alerts_lifespan,
        generation_lifespan,
        publishing_lifespan,
        spool_lifespan,
        media_lifespan,
        delivery_lifespan,
        retention_lifespan,
    ]
    handlers.install(app)
    openapi.install(app, settings)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["*"], allow_headers=["*"],
                           expose_headers=["ETag", "X-Request-Id", "X-Checksum"])
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes,
                       own_limit_prefixes=("/v1/media",))
    if configure_tracing(settings.otel_exporter_otlp_endpoint,
                         service_name=settings.otel_service_name, version=__version__,
                         deploy_id=settings.deploy_id):
        app.add_middleware(TracingMiddleware)  # outermost: the request log line is inside it
    app.include_router(health_router)
    app.include_router(api_router)
    app.include_router(web_router)
    return app


def retention_lifespan(app: FastAPI) -> AbstractAsyncContextManager[None]:
    """Lifespan hook: prune expired rows (one process of the cluster at a time)."""
    return pruning(app.state.engine, app.state.settings)


def build_default_app() -> FastAPI:
    """Entry for `uvicorn postplan.app:build_default_app --factory`. Prefer `postplan serve`;
    with uvicorn's CLI add `--http postplan.core.httpserver:GuardedH11Protocol` for the header
    size and read-time limits (uvicorn's default protocol has neither)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_file, settings.log_format)
    return create_app(settings)
