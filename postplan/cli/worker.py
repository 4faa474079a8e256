"""`postplan worker`: the publish worker as its own process (any number may run at once)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import timedelta

import typer

from postplan.publishing.worker.context import WorkerConfig, reconcile_schedule


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        concurrency: int = typer.Option(32, min=1, max=1024, help="Intents processed at once."),
        once: bool = typer.Option(False, help="Process what is due now, then exit."),
        lease_seconds: float = typer.Option(60.0, min=1.0, help="Claim lease per intent."),
        poll_seconds: float | None = typer.Option(
            None, min=0.01, help="Fixed delay between status polls (default: backing off)."),
        retry_base: float = typer.Option(2.0, min=0.01, help="First retry delay (doubles)."),
        metrics_port: int | None = typer.Option(
            None, min=1, max=65535, envvar="WORKER_METRICS_PORT",
            help="Serve this process's Prometheus /metrics on this port (publish results and "
                 "channel API calls are counted where they happen: in the worker)."),
        metrics_host: str = typer.Option("127.0.0.1", help="Address for --metrics-port."),
    ) -> None:
        """Claim due publish intents and publish them, and inspect uploaded media (unless
        MEDIA_PROCESSING_ENABLED=false); stops cleanly on SIGTERM/SIGINT."""
        from postplan.cli.flags import create_default_flags_file
        from postplan.cli.settings import load_settings
        from postplan.core.logging import configure_logging

        settings = load_settings()
        configure_logging(settings.log_level, settings.log_file, settings.log_format)
        create_default_flags_file(settings)
        if metrics_port is not None:
            from prometheus_client import start_http_server

            from postplan.core.metrics import registry, set_build_info

            set_build_info(settings.deploy_id)
            start_http_server(metrics_port, addr=metrics_host, registry=registry)
        config = WorkerConfig(concurrency=concurrency, idle_sleep=settings.worker_poll_seconds,
                              lease=timedelta(seconds=lease_seconds), retry_base=retry_base,
                              reconcile_delays=reconcile_schedule(
                                  settings.reconcile_first_seconds))
        if poll_seconds is not None:
            config.poll_delays = (poll_seconds,)
            config.reconcile_delays = tuple(poll_seconds * 2**i for i in range(5))
        asyncio.run(_run(config, once))


async def _run(config: WorkerConfig, once: bool) -> None:
    from postplan.cli.settings import load_settings
    from postplan.core.flags import FlagService
    from postplan.core.migrate import upgrade_async
    from postplan.core.retention import pruning
    from postplan.core.tracing import configure_tracing, shutdown_tracing
    from postplan.media.processing import Processor, running
    from postplan.media.resources import build_resources
    from postplan.notifications.delivery import DeliveryLoop
    from postplan.publishing.gateway import gateway_scope
    from postplan.publishing.worker.loop import Worker, worker_engine

    settings = load_settings()
    if settings.is_sqlite:
        await upgrade_async(settings.database_url)
    configure_tracing(settings.otel_exporter_otlp_endpoint,
                      service_name=f"{settings.otel_service_name}-worker",
                      deploy_id=settings.deploy_id)
    engine = worker_engine(settings, config.concurrency)
    flags = FlagService(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    media = build_resources(settings)
    try:
        # The flags are re-read while the worker runs (file or database), so a rollback through
        # `postplan flags set PUBLISH_SERVICE_ENABLED off` stops sends here within seconds.
        async with flags.watch(), pruning(engine, settings), \
                gateway_scope(settings, paced=True) as gateway:
            w = Worker(engine, settings, flags, gateway, config=config)
            # Webhook delivery runs beside the publish worker, on its own task and HTTP
            # client (postplan/notifications/delivery.py); it needs the secrets' key.
            hooks = (DeliveryLoop(engine, settings)
                     if settings.token_encryption_key is not None else None)
            if once:
                while await w.run_once():
                    pass
                # Uploads waiting for inspection, too (docs/media.md).
                processor = Processor(engine, media)
                while await processor.run_once():
                    pass
                if hooks is not None:
                    while await hooks.run_once():
                        pass
                    await hooks.aclose()
            else:
                async with contextlib.AsyncExitStack() as stack:
                    if settings.media_processing_enabled:
                        await stack.enter_async_context(running(engine, media))
                    if hooks is not None:
                        await stack.enter_async_context(hooks.running())
                    await w.run(stop)
    finally:
        await engine.dispose()
        shutdown_tracing()
