"""Publishing speed.

* Dry run: 1,000 entries × 2 channels (2,000 intents) validated with the real adapters and
  recorded, through the HTTP endpoint (in-process ASGI), on Postgres (target ≥ 2,000 intents/s)
  and on SQLite. Baseline: a bare bulk INSERT of the same 2,000 rows in the same database.
* Live: 1,000 intents for 500 users (one TikTok and one Instagram account each) published by
  two worker processes racing on one Postgres, against the fake platform with 50 ms added to
  every request (target ≥ 100 posts/s). Each process talks to its own in-memory copy of the
  fake (httpx ASGI transport, same accounts): over loopback the fake's single uvicorn thread
  serves only ~15-70 requests/s on this 2-core box and would be what is measured. Per-token
  limits are kept (adapters' ledgers + the worker's pacing); posts summed over the processes'
  ledgers must equal published intents, with no duplicate. `--socket` adds a small run of two
  real `postplan worker` processes against the fake over loopback.

    .venv/bin/python -m bench.bench_publish [--quick] [--socket]   # prints the figures
    .venv/bin/python -m bench.run --only publish                   # through the shared runner
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.helpers import row

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
KEY = "bench-token-key"


# -- databases ------------------------------------------------------------------------------------

async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_url(name: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


class Database:
    """A fresh, migrated database (Postgres or a temporary SQLite file), removed on exit."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = f"bench_publish_{uuid.uuid4().hex[:8]}"
        self.tmp: str | None = None
        self.url = ""

    def __enter__(self) -> Database:
        from postplan.core.migrate import upgrade

        if self.kind == "postgres":
            asyncio.run(_pg_admin(f'CREATE DATABASE "{self.name}"'))
            self.url = _pg_url(self.name)
        else:
            self.tmp = tempfile.mkdtemp(prefix="bench-publish-")
            self.url = f"sqlite+aiosqlite:///{self.tmp}/bench.db"
        upgrade(self.url)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.kind == "postgres":
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        elif self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _settings(url: str, **extra: Any) -> Any:
    from postplan.config import Settings

    values: dict[str, Any] = {"DATABASE_URL": url, "WORKER_ENABLED": False,
                              "TOKEN_ENCRYPTION_KEY": KEY, "LOG_LEVEL": "WARNING"}
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def _seed(engine: Any, users: list[str], per_channel: int) -> dict[str, uuid.UUID]:
    """One calendar per user with `per_channel` TikTok videos and Instagram reels."""
    from sqlalchemy import insert

    from postplan.models import Calendar, CalendarEntry

    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    cals: dict[str, uuid.UUID] = {}
    cal_rows: list[dict[str, Any]] = []
    entry_rows: list[dict[str, Any]] = []
    now = dt.datetime.now(dt.UTC)
    for user in users:
        cal_id = uuid.uuid4()
        cals[user] = cal_id
        cal_rows.append({"id": cal_id, "user_id": user, "name": "Bench", "brief": {},
                         "timezone": "UTC", "created_at": now, "updated_at": now})
        for i in range(per_channel * 2):
            tiktok = i % 2 == 0
            entry_rows.append({
                "id": uuid.uuid4(), "calendar_id": cal_id, "user_id": user, "seq": i,
                "channel": "tiktok" if tiktok else "instagram",
                "format": "video" if tiktok else "reel",
                "scheduled_at": start + dt.timedelta(days=i // 2, minutes=i),
                "timezone": "UTC", "pillar": "tips", "hook": "Hook",
                "caption": f"{user} post {i}: the morning ritual, step by step",
                "hashtags": ["coffee", "morning"], "call_to_action": "", "asset_notes": "",
                "media": [{"url": f"https://cdn.example.test/{user}/{i}.mp4", "type": "video"}],
                "version": 1, "edited": False, "created_at": now, "updated_at": now,
                # TikTok's choices a person makes before a direct post (no default).
                "channel_options": {"tiktok": {"privacyLevel": "SELF_ONLY",
                                               "musicUsageConfirmed": True}} if tiktok else {},
            })
    async with engine.begin() as conn:
        await conn.execute(insert(Calendar), cal_rows)
        for i in range(0, len(entry_rows), 2000):
            await conn.execute(insert(CalendarEntry), entry_rows[i:i + 2000])
    return cals


# -- dry run --------------------------------------------------------------------------------------

def _dry_run(kind: str, per_channel: int, repeats: int) -> tuple[float, float, int]:
    with Database(kind) as db:
        return asyncio.run(_dry_run_in(db.url, per_channel, repeats))


async def _dry_run_in(url: str, per_channel: int, repeats: int) -> tuple[float, float, int]:
    import httpx

    from postplan.app import create_app
    from postplan.core.db import create_engine
    from postplan.publishing.tables import intents

    if True:
        settings = _settings(url, PUBLISH_SERVICE_ENABLED=False)
        engine = create_engine(url)
        cals = await _seed(engine, ["bench-user"], per_channel)
        cal = cals["bench-user"]
        app = create_app(settings, migrate=False, run_worker=False)
        best = float("inf")
        total = 0
        levels = ["SELF_ONLY", "MUTUAL_FOLLOW_FRIENDS", "PUBLIC_TO_EVERYONE",
                  "FOLLOWER_OF_CREATOR"]
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1",
                                         timeout=120) as client:
                for r in range(repeats):
                    started = time.perf_counter()
                    resp = await client.post(f"/v1/calendars/{cal}/publish", json={
                        "dryRun": True, "privacyLevel": levels[r % len(levels)]},
                        headers={"X-User-Id": "bench-user"})
                    elapsed = time.perf_counter() - started
                    assert resp.status_code in (200, 207), resp.text[:300]
                    total = resp.json()["summary"]["total"]
                    best = min(best, elapsed)
        # Baseline: the same number of rows in one bare executemany INSERT.
        sample = [{
            "id": uuid.uuid4(), "calendar_id": cal, "run_id": None, "entry_id": uuid.uuid4(),
            "user_id": "baseline", "channel": "tiktok", "status": "dry_run", "error": None,
            "payload": {"channel": "tiktok", "requests": [{"method": "POST", "body": {
                "post_info": {"title": "x" * 60, "privacy_level": "SELF_ONLY"}}}]},
            "dry_run": True, "when": "scheduled", "entry_version": 1, "run_after": None,
            "attempts": 0, "created_at": dt.datetime.now(dt.UTC),
            "updated_at": dt.datetime.now(dt.UTC), "polls": 0,
            "request": {"caption": "x" * 60}, "account_id": None,
        } for _ in range(total)]
        base_best = float("inf")
        for _ in range(repeats):
            for s in sample:
                s["id"] = uuid.uuid4()
            started = time.perf_counter()
            async with engine.begin() as conn:
                await conn.execute(intents.insert(), sample)
            base_best = min(base_best, time.perf_counter() - started)
        await engine.dispose()
    return total / best, total / base_best, total


# -- live -----------------------------------------------------------------------------------------

def _account(user: str, channel: str) -> dict[str, str]:
    """The fake account (id and token) a bench user has on a channel; the same in every
    process, so each worker process can serve the accounts from its own in-memory fake."""
    n = int(user.rsplit("-", 1)[1])
    if channel == "tiktok":
        return {"account_id": f"open-bench-{n}", "token": f"act.bench-token-{n:06d}"}
    return {"account_id": str(17841400000000000 + n), "token": f"IGAAbenchtoken{n:06d}"}


async def _queue_live(url: str, fake: Any, users: list[str]) -> int:
    from postplan.core.crypto import TokenCipher
    from postplan.core.db import create_engine, create_sessionmaker
    from postplan.core.flags import FlagService
    from postplan.publishing.connections import store as connections
    from postplan.publishing.gateway import RegistryGateway
    from postplan.publishing.intake import service
    from postplan.publishing.schemas import PublishBody
    from tests.publishing.fake_gateway import fake_env

    settings = _settings(url, PUBLISH_SERVICE_ENABLED=True, **fake_env(fake.url))
    cipher = TokenCipher(settings.token_encryption_key.get_secret_value())
    engine = create_engine(url)
    cals = await _seed(engine, users, 1)
    maker = create_sessionmaker(engine)
    flags = FlagService(settings)
    queued = 0
    gateway = RegistryGateway(settings)
    try:
        async with maker() as session:
            for user in users:
                for channel in ("tiktok", "instagram"):
                    acct = fake.control.add_account(channel, **_account(user, channel))
                    await connections.save_tokens(
                        session, cipher, user, channel, access_token=acct.token,
                        refresh_token=None, account_id=acct.account_id,
                        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
            await session.commit()
        for user in users:
            async with maker() as session:
                outcome = await service.publish_calendar(
                    session, settings=settings, flags=flags, gateway=gateway, user_id=user,
                    calendar_id=cals[user], body=PublishBody(dry_run=False, when="now"),
                    request_id=None, now=dt.datetime.now(dt.UTC))
                await session.commit()
                queued += outcome.body.summary.queued
    finally:
        await gateway.aclose()
        await engine.dispose()
    return queued


async def _count(url: str, engine: Any = None) -> dict[str, int]:
    """Live intents by status; `engine` is reused when given (a poll loop), else one is made."""
    from sqlalchemy import func, select

    from postplan.core.db import create_engine
    from postplan.publishing.tables import intents

    own = engine is None
    engine = create_engine(url) if own else engine
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(
                select(intents.c.status, func.count()).where(intents.c.dry_run.is_(False))
                .group_by(intents.c.status))).all()
        return {r[0]: int(r[1]) for r in rows}
    finally:
        if own:
            await engine.dispose()


async def _retries(url: str) -> int:
    from sqlalchemy import func, select

    from postplan.core.db import create_engine
    from postplan.publishing.tables import attempts

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(
                select(func.count()).select_from(attempts)
                .where(attempts.c.outcome.in_(["retry", "RetryLater"])))).scalar_one())
    finally:
        await engine.dispose()


def _live_in_memory(users: int, workers: int, concurrency: int) -> dict[str, float]:
    """Workers in this process against the fake served through httpx's ASGI transport: the
    same routes, envelopes, rate limits and 50 ms latency, without loopback sockets (the fake's
    uvicorn thread is the bottleneck over TCP on a busy 2-core box)."""
    from tests.fakes.channels_server import (
        IN_MEMORY_BASE,
        FakeChannelsConfig,
        in_memory_channels,
    )

    names = [f"bench-{i}" for i in range(users)]
    transport, control = in_memory_channels(FakeChannelsConfig(latency=0.05,
                                                               ig_processing_polls=0))

    class _Fake:
        url = IN_MEMORY_BASE

        def __init__(self) -> None:
            self.control = control

    fake = _Fake()
    with Database("postgres") as db:
        queued = asyncio.run(_queue_live(db.url, fake, names))
        return asyncio.run(_run_in_memory(db.url, transport, control, queued, workers,
                                          concurrency))


async def _run_in_memory(url: str, transport: Any, control: Any, queued: int, workers: int,
                         concurrency: int) -> dict[str, float]:
    import httpx

    from postplan.core.flags import FlagService
    from postplan.publishing.worker.context import WorkerConfig
    from postplan.publishing.worker.loop import Worker, worker_engine
    from tests.fakes.channels_server import IN_MEMORY_BASE
    from tests.publishing.fake_gateway import FakePlatformGateway, fake_env

    # The worker's own pool, as `postplan worker` builds it, with DATABASE_POOL_SIZE=40.
    settings = _settings(url, PUBLISH_SERVICE_ENABLED=True, DATABASE_POOL_SIZE=40,
                         **fake_env(IN_MEMORY_BASE))
    engines = [worker_engine(settings, concurrency) for _ in range(workers)]
    async with httpx.AsyncClient(transport=transport, base_url=IN_MEMORY_BASE) as http:
        gateway = FakePlatformGateway(http, IN_MEMORY_BASE)
        ws = [Worker(e, settings, FlagService(settings), gateway,
                     config=WorkerConfig(concurrency=concurrency, poll_delays=(0.05,),
                                         idle_sleep=0.02)) for e in engines]
        stop = asyncio.Event()
        started = time.perf_counter()
        tasks = [asyncio.create_task(w.run(stop)) for w in ws]
        counts: dict[str, int] = {}
        while time.perf_counter() - started < 300:
            await asyncio.sleep(0.25)
            counts = await _count(url)
            if sum(n for st, n in counts.items() if st in (
                    "published", "failed", "unknown", "needs_reauth")) >= queued:
                break
        elapsed = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*tasks)
    for e in engines:
        await e.dispose()
    published = counts.get("published", 0)
    posts = len(control.live_posts())
    return {"queued": queued, "published": published, "seconds": elapsed, "posts": posts,
            "duplicates": len(control.duplicates()), "retries": await _retries(url),
            "per_s": published / elapsed if elapsed else 0.0}


def _live_processes(users: int, processes: int, concurrency: int) -> dict[str, float]:
    """`processes` worker processes, each with its own in-memory fake holding the same
    accounts; posts are summed over the processes' ledgers (a double post anywhere shows up
    as posts > published)."""
    from tests.fakes.channels_server import IN_MEMORY_BASE, FakeChannels, FakeChannelsConfig

    names = [f"bench-{i}" for i in range(users)]

    class _Fake:
        url = IN_MEMORY_BASE

        def __init__(self) -> None:
            self.control = FakeChannels(FakeChannelsConfig())

    with Database("postgres") as db:
        queued = asyncio.run(_queue_live(db.url, _Fake(), names))
        started = time.perf_counter()
        procs = [subprocess.Popen(
            [sys.executable, "-m", "bench.bench_publish", "--child", db.url, str(users),
             str(concurrency)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True) for _ in range(processes)]
        outs = [p.communicate(timeout=600)[0] for p in procs]
        wall = time.perf_counter() - started
        counts = asyncio.run(_count(db.url))
        posts = dups = 0
        starts: list[float] = []
        ends: list[float] = []
        for out in outs:
            fields = dict(item.split("=") for item in out.split())
            posts += int(fields.get("posts", 0))
            dups += int(fields.get("duplicates", 0))
            starts.append(float(fields.get("start", 0)))
            ends.append(float(fields.get("end", 0)))
        # From the first worker starting to the last intent settled (process start-up, imports
        # and loading the fake's accounts excluded; `wall` includes them).
        elapsed = max(ends) - min(starts) if starts and ends else wall
        published = counts.get("published", 0)
        return {"queued": queued, "published": published, "seconds": elapsed, "posts": posts,
                "duplicates": dups, "retries": asyncio.run(_retries(db.url)),
                "wall_with_startup": wall, "per_s": published / elapsed if elapsed else 0.0}


async def _child(url: str, users: int, concurrency: int) -> None:
    """One worker process of `_live_processes`: works until nothing is left to do."""
    import httpx

    from postplan.core.db import create_engine
    from postplan.core.flags import FlagService
    from postplan.publishing.worker.context import WorkerConfig
    from postplan.publishing.worker.loop import Worker, worker_engine
    from tests.fakes.channels_server import IN_MEMORY_BASE, FakeChannelsConfig, in_memory_channels
    from tests.publishing.fake_gateway import FakePlatformGateway, fake_env

    transport, control = in_memory_channels(FakeChannelsConfig(latency=0.05,
                                                               ig_processing_polls=0))
    for i in range(users):
        for channel in ("tiktok", "instagram"):
            control.add_account(channel, **_account(f"bench-{i}", channel))
    settings = _settings(url, PUBLISH_SERVICE_ENABLED=True, DATABASE_POOL_SIZE=40,
                         **fake_env(IN_MEMORY_BASE))
    engine = worker_engine(settings, concurrency)
    async with httpx.AsyncClient(transport=transport, base_url=IN_MEMORY_BASE) as http:
        worker = Worker(engine, settings, FlagService(settings),
                        FakePlatformGateway(http, IN_MEMORY_BASE),
                        config=WorkerConfig(concurrency=concurrency, poll_delays=(0.05,),
                                            idle_sleep=0.02))
        stop = asyncio.Event()
        watch = create_engine(url, pool_size=1)  # the bench's own poll, one connection
        started = time.time()
        task = asyncio.create_task(worker.run(stop))
        while True:
            await asyncio.sleep(0.1)
            counts = await _count(url, watch)
            if not any(counts.get(s) for s in ("pending", "claimed", "submitting",
                                                "processing")):
                break
        finished = time.time()
        stop.set()
        await task
        await watch.dispose()
    await engine.dispose()
    print(f"posts={len(control.live_posts())} duplicates={len(control.duplicates())} "
          f"start={started} end={finished}")


async def _child_bare(users: int, concurrency: int, part: int, parts: int) -> None:
    """The in-run baseline for live publishing: the same adapter calls against the same
    in-memory fake with the same concurrency, and nothing else (no database, no claims, no
    state machine, no attempt rows). What the machine can do before postplan adds its
    guarantees; this process takes every `parts`-th user."""
    import datetime as dt

    import httpx

    from postplan.channels.base import Credentials, MediaRef, PublishRequest
    from tests.fakes.channels_server import IN_MEMORY_BASE, FakeChannelsConfig, in_memory_channels
    from tests.publishing.fake_gateway import FakePlatformGateway

    transport, control = in_memory_channels(FakeChannelsConfig(latency=0.05,
                                                               ig_processing_polls=0))
    mine = [i for i in range(users) if i % parts == part]
    for i in range(users):
        for channel in ("tiktok", "instagram"):
            control.add_account(channel, **_account(f"bench-{i}", channel))
    gate = asyncio.Semaphore(concurrency)
    published = 0

    async def one(gateway: FakePlatformGateway, i: int, channel: str) -> None:
        nonlocal published
        acct = _account(f"bench-{i}", channel)
        creds = Credentials(access_token=acct["token"], account_id=acct["account_id"])
        tiktok = channel == "tiktok"
        req = PublishRequest(
            intent_id=str(uuid.uuid4()), channel=channel, format="video" if tiktok else "reel",
            caption=f"bench-{i} {channel}: the morning ritual, step by step",
            hashtags=["coffee", "morning"],
            media=[MediaRef(url=f"https://cdn.example.test/{i}.mp4", type="video")],
            scheduled_at=dt.datetime.now(dt.UTC), account_id=acct["account_id"],
            privacy_level="SELF_ONLY" if tiktok else None)
        adapter = gateway.adapter(channel)
        async with gate:
            await adapter.preflight(creds, req)
            handle = await adapter.prepare(creds, req)
            result = await adapter.publish(creds, req, handle, on_handle=_noop)
            while result.state == "processing":
                await asyncio.sleep(0.05)
                result = await adapter.poll(creds, req, result.handle or handle or "")
        published += result.state == "published"

    async with httpx.AsyncClient(transport=transport, base_url=IN_MEMORY_BASE) as http:
        gateway = FakePlatformGateway(http, IN_MEMORY_BASE)
        started = time.time()
        await asyncio.gather(*(one(gateway, i, ch) for i in mine
                               for ch in ("tiktok", "instagram")))
        finished = time.time()
    print(f"posts={len(control.live_posts())} duplicates={len(control.duplicates())} "
          f"published={published} start={started} end={finished}")


async def _noop(handle: str) -> None:
    return None


def _bare_processes(users: int, processes: int, concurrency: int) -> dict[str, float]:
    """`_child_bare` in `processes` processes (users split between them)."""
    procs = [subprocess.Popen(
        [sys.executable, "-m", "bench.bench_publish", "--bare", str(users), str(concurrency),
         str(part), str(processes)], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True) for part in range(processes)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    fields = [dict(item.split("=") for item in out.split()) for out in outs]
    published = sum(int(f["published"]) for f in fields)
    elapsed = max(float(f["end"]) for f in fields) - min(float(f["start"]) for f in fields)
    return {"published": published, "seconds": elapsed,
            "per_s": published / elapsed if elapsed else 0.0}


def _live(users: int, workers: int, concurrency: int) -> dict[str, float]:
    from tests.fakes.channels_server import FakeChannelsConfig, start_fake_channels
    from tests.publishing.fake_gateway import fake_env

    names = [f"bench-{i}" for i in range(users)]
    with Database("postgres") as db, start_fake_channels(
            FakeChannelsConfig(latency=0.05, ig_processing_polls=0)) as fake:
        queued = asyncio.run(_queue_live(db.url, fake, names))
        env = dict(os.environ)
        env.update(fake_env(fake.url))
        env.update({"DATABASE_URL": db.url, "PUBLISH_SERVICE_ENABLED": "true",
                    "WORKER_POLL_SECONDS": "0.02",
                    "LOG_LEVEL": "WARNING", "DATABASE_POOL_SIZE": "20"})
        exe = str(Path(sys.executable).parent / "postplan")
        started = time.perf_counter()
        procs = [subprocess.Popen(
            [exe, "worker", "--concurrency", str(concurrency), "--poll-seconds", "0.05"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(workers)]
        try:
            deadline = time.monotonic() + 300
            counts: dict[str, int] = {}
            while time.monotonic() < deadline:
                counts = asyncio.run(_count(db.url))
                done = sum(n for s, n in counts.items() if s in ("published", "failed",
                                                                  "unknown", "needs_reauth"))
                if done >= queued:
                    break
                time.sleep(0.1)
            elapsed = time.perf_counter() - started
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        published = counts.get("published", 0)
        posts = len(fake.control.live_posts())
        return {"queued": queued, "published": published, "seconds": elapsed,
                "posts": posts, "duplicates": len(fake.control.duplicates()),
                "retries": asyncio.run(_retries(db.url)),
                "per_s": published / elapsed if elapsed else 0.0}


def run(quick: bool) -> list[dict[str, Any]]:
    """The shared bench protocol (bench/README.md)."""
    sys.path.insert(0, str(ROOT))
    from postplan.core.logging import configure_logging

    configure_logging("WARNING")  # JSON to stderr; the runner owns stdout
    per_channel = 200 if quick else 1000
    repeats = 2 if quick else 3
    rows: list[dict[str, Any]] = []
    pg, pg_base, total = _dry_run("postgres", per_channel, repeats)
    rows.append(row("publish.dry_run_pg_intents_per_s", pg, "ops/s", baseline=pg_base,
                    target=">= 2000 intents/s", better="higher", ok=pg >= 2000 or quick))
    lite, lite_base, _ = _dry_run("sqlite", per_channel, repeats)
    rows.append(row("publish.dry_run_sqlite_intents_per_s", lite, "ops/s", baseline=lite_base,
                    better="higher"))
    users = 100 if quick else 500
    live = _live_processes(users=users, processes=2, concurrency=64)
    bare = _bare_processes(users=users, processes=2, concurrency=64)
    rows.append(row("publish.live_fake_posts_per_s", live["per_s"], "ops/s",
                    baseline=bare["per_s"],
                    target=">= 100 posts/s (50 ms fake latency)", better="higher",
                    ok=live["per_s"] >= 100 or quick))
    rows.append(row("publish.live_posts_minus_published", live["posts"] - live["published"],
                    "posts", target="== 0", ok=live["posts"] == live["published"]))
    rows.append(row("publish.live_duplicate_posts", live["duplicates"], "posts", target="== 0",
                    ok=live["duplicates"] == 0))
    rows.append(row("publish.live_rate_limited_retries", live["retries"], "calls",
                    target="0 (per-token limits kept)"))
    # Scaling out: the same load through one worker process (pacing shared in the database).
    one = _live_processes(users=users, processes=1, concurrency=64)
    scale = live["per_s"] / one["per_s"] if one["per_s"] else 0.0
    # At 64 in flight one worker process already keeps a core busy (the worker and its
    # in-memory fake); on a 2-core machine shared with Postgres a second process can add only
    # what is left, so this figure measures the machine's cores, not the claims.
    rows.append(row("publish.live_two_workers_vs_one_ratio_cpu_bound", scale, "ratio",
                    target="informational (bounded by cores)", better="higher"))
    # The production shape: each worker's throughput bounded by the platform's latency (8 in
    # flight against 50 ms per call), so what a second worker adds shows whether claims,
    # pacing or the database serialize the workers.
    one_8 = _live_processes(users=users, processes=1, concurrency=8)
    two_8 = _live_processes(users=users, processes=2, concurrency=8)
    scale_8 = two_8["per_s"] / one_8["per_s"] if one_8["per_s"] else 0.0
    rows.append(row("publish.live_two_workers_vs_one_ratio", scale_8, "ratio",
                    target=">= 1.5 (each worker its own process, latency-bound)",
                    better="higher", ok=scale_8 >= 1.5 or quick))
    rows.append(row("publish.live_latency_bound_duplicate_posts",
                    one_8["duplicates"] + two_8["duplicates"], "posts", target="== 0",
                    ok=one_8["duplicates"] + two_8["duplicates"] == 0))
    print(f"live with 1 worker process: {one}; latency-bound (8 in flight): one {one_8}, "
          f"two {two_8}", file=sys.stderr)
    print(f"dry-run: {total} intents; live (2 worker processes, in-memory fake each): {live}; "
          f"baseline, the adapter calls alone in 2 processes: {bare}", file=sys.stderr)
    if "--socket" in sys.argv:
        sock = _live(users=50, workers=2, concurrency=64)
        rows.append(row("publish.live_socket_posts_per_s", sock["per_s"], "ops/s",
                        better="higher"))
        print(f"live over loopback (2 `postplan worker` processes): {sock}", file=sys.stderr)
    return rows


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--bare":
    sys.path.insert(0, str(ROOT))
    from postplan.core.logging import configure_logging

    configure_logging("WARNING")
    asyncio.run(_child_bare(*(int(a) for a in sys.argv[2:6])))
    sys.exit(0)

if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--child":
    sys.path.insert(0, str(ROOT))
    from postplan.core.logging import configure_logging

    configure_logging("WARNING")
    asyncio.run(_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    sys.exit(0)

if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        base = f" (baseline {r['baseline']:.0f}, ratio {r['ratio']})" if r["baseline"] else ""
        print(f"{r['name']:40} {r['value']:>10.1f} {r['unit']:<6} target {r['target']}{base}")
