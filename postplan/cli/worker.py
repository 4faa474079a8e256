"""`postplan worker`: the publish worker as its own process (any number may run at once)."""

from __future__ import annotations

import asyncio
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
    ) -> None:
        """Claim due publish intents and publish them (stops cleanly on SIGTERM/SIGINT)."""
        from postplan.cli.server import load_settings
        from postplan.core.logging import configure_logging

        settings = load_settings()
        configure_logging(settings.log_level, settings.log_file)
        config = WorkerConfig(concurrency=concurrency, idle_sleep=settings.worker_poll_seconds,
                              lease=timedelta(seconds=lease_seconds), retry_base=retry_base,
                              reconcile_delays=reconcile_schedule(
                                  settings.reconcile_first_seconds))
        if poll_seconds is not None:
            config.poll_delays = (poll_seconds,)
            config.reconcile_delays = tuple(poll_seconds * 2**i for i in range(5))
        asyncio.run(_run(config, once))


async def _run(config: WorkerConfig, once: bool) -> None:
    from postplan.cli.server import load_settings
    from postplan.core.flags import FlagService
    from postplan.core.migrate import upgrade_async
    from postplan.publishing.gateway import gateway_scope
    from postplan.publishing.worker.loop import Worker, worker_engine

    settings = load_settings()
    if settings.is_sqlite:
        await upgrade_async(settings.database_url)
    engine = worker_engine(settings, config.concurrency)
    flags = FlagService(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with gateway_scope(settings) as gateway:
            w = Worker(engine, settings, flags, gateway, config=config)
            if once:
                while await w.run_once():
                    pass
            else:
                await w.run(stop)
    finally:
        await engine.dispose()
