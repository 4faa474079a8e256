"""Faster certainty (issue 15, Speed, second figure): time from an ambiguous platform answer to
a settled intent, against the fake Instagram over loopback, with the production defaults
(`RECONCILE_FIRST_SECONDS`, the worker's reconcile schedule, real clock).

Every intent's `media_publish` answers HTTP 500: for half of them the post went through first
(the fake's `error_after`), for the other half it did not. Settle time = from the end of the
`publish` attempt that came back ambiguous to the moment the intent is `published` (the first
half by reconcile seeing the post, the second by reconcile proving it absent and sending the
same container again). Target: p50 ≤ 20 s, every intent published, exactly one post each.

    .venv/bin/python -m bench.bench_settle [--quick]
    .venv/bin/python -m bench.run --only settle
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any

from bench.helpers import row


async def _measure(n: int) -> dict[str, float]:
    import httpx

    from postplan.config import Settings
    from postplan.core.db import create_engine
    from postplan.core.flags import FlagService
    from postplan.core.migrate import upgrade_async
    from postplan.publishing.worker.context import WorkerConfig, reconcile_schedule
    from postplan.publishing.worker.loop import Worker
    from tests.fakes.channels.server import start_fake_channels
    from tests.fakes.channels.state import FakeChannelsConfig, Fault
    from tests.publishing.conftest import seed_calendar
    from tests.publishing.fake_gateway import FakePlatformGateway, fake_env
    from tests.publishing.helpers import add_connection, attempt_rows, intent_rows, queue

    tmp = tempfile.mkdtemp(prefix="bench-settle-")
    url = f"sqlite+aiosqlite:///{tmp}/settle.db"
    try:
        with start_fake_channels(FakeChannelsConfig(ig_processing_polls=0)) as fake:
            settings = Settings(_env_file=None, DATABASE_URL=url,  # type: ignore[call-arg]
                                WORKER_ENABLED=False, PUBLISH_SERVICE_ENABLED=True,
                                LOG_LEVEL="WARNING", **fake_env(fake.url))
            await upgrade_async(url)
            engine = create_engine(url)
            ig = fake.control.add_account("instagram")
            await add_connection(engine, settings, "instagram", token=ig.token,
                                 account_id=ig.account_id)
            cal, _ = await seed_calendar(engine, entries=[
                {"channel": "instagram", "format": "reel", "caption": f"settle {i}"}
                for i in range(n)])
            landed = n // 2
            fake.control.faults.append(Fault("/media_publish", kind="error_after",
                                             times=landed))
            fake.control.faults.append(Fault("/media_publish", status=500, times=n - landed))
            async with httpx.AsyncClient(timeout=10) as http:
                gateway = FakePlatformGateway(http, fake.url)
                await queue(engine, settings, gateway, cal)
                # As the in-process worker and `postplan worker` build it.
                config = WorkerConfig(idle_sleep=0.1, reconcile_delays=reconcile_schedule(
                    settings.reconcile_first_seconds))
                worker = Worker(engine, settings, FlagService(settings), gateway, config=config)
                started = time.monotonic()
                while time.monotonic() - started < 120:
                    await worker.run_once()
                    if all(r.status in ("published", "failed") for r in
                           await intent_rows(engine)):
                        break
                    await asyncio.sleep(0.1)
                rows = await intent_rows(engine)
                settle: list[float] = []
                for r in rows:
                    steps = await attempt_rows(engine, r.id)
                    unknown = [a for a in steps if a.step == "publish" and a.outcome == "unknown"]
                    if r.status == "published" and unknown:
                        settle.append((r.updated_at - unknown[0].finished_at).total_seconds())
            posts = len(fake.control.live_posts())
            duplicates = len(fake.control.duplicates())
            await engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"n": n, "published": sum(r.status == "published" for r in rows),
            "p50": statistics.median(settle) if settle else float("inf"),
            "max": max(settle) if settle else float("inf"), "posts": posts,
            "duplicates": duplicates, "settled": len(settle)}


def run(quick: bool) -> list[dict[str, Any]]:
    """p50 and max settle seconds after an ambiguous answer; posts must equal intents."""
    out = asyncio.run(_measure(4 if quick else 10))
    exact = out["published"] == out["n"] == out["posts"] == out["settled"] \
        and out["duplicates"] == 0
    return [
        row("settle.ambiguous_to_settled_p50_s", out["p50"], "s", target="<= 20 s",
            ok=exact and out["p50"] <= 20),
        row("settle.ambiguous_to_settled_max_s", out["max"], "s", target="exactly one post",
            ok=exact),
    ]


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        print(r)
