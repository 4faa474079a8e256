"""A publish worker as its own process, with test-sized timings, for the SIGKILL tests.

    python -m tests.faults.worker_proc   (env: DATABASE_URL, FAKE_BASE, the fake_env settings)

Same Worker class `postplan worker` runs; only the lease, retry and reconcile delays are
shrunk so a killed worker's claim expires within seconds, and the adapters are the real ones
pointed at the fake platform (FAKE_BASE).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal

import httpx

from postplan.config import Settings
from postplan.core.flags import FlagService
from postplan.core.logging import configure_logging
from postplan.publishing.worker.context import WorkerConfig
from postplan.publishing.worker.loop import Worker, worker_engine
from tests.publishing.fake_gateway import FakePlatformGateway


async def main() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    configure_logging(settings.log_level, settings.log_file)
    concurrency = int(os.environ.get("CONCURRENCY", "8"))
    engine = worker_engine(settings, concurrency)  # the pool `postplan worker` uses
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with httpx.AsyncClient(timeout=float(os.environ.get("FAKE_TIMEOUT", "5"))) as http:
        gateway = FakePlatformGateway(http, os.environ["FAKE_BASE"])
        config = WorkerConfig(
            concurrency=concurrency,
            lease=dt.timedelta(seconds=float(os.environ.get("LEASE", "2"))),
            idle_sleep=0.05, retry_base=0.2, retry_cap=1.0,
            poll_delays=(float(os.environ.get("POLL", "0.2")),),
            reconcile_delays=(0.3, 0.6, 1.0, 2.0), flag_off_delay=1.0, rate_limits={},
        )
        worker = Worker(engine, settings, FlagService(settings), gateway, config=config)
        print("worker.ready", flush=True)
        try:
            await worker.run(stop)
        finally:
            await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
