"""The worker against a scripted adapter: every path of the state machine, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from postplan.channels.base import AuthError, OutcomeUnknown, PermanentError, RetryLater
from postplan.config import Settings
from postplan.publishing.states import Event
from postplan.publishing.tables import connections as conn_t
from postplan.publishing.worker.claims import StaleClaim, claim_due, transition
from tests.publishing.conftest import APP_CREDS, StubGateway, seed_calendar
from tests.publishing.helpers import (
    Clock,
    add_connection,
    attempt_rows,
    intent_rows,
    make_worker,
    queue,
    run_until_idle,
    statuses,
)


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(PUBLISH_SERVICE_ENABLED=True, **APP_CREDS)


async def _setup(engine: Any, settings: Settings, gateway: StubGateway, count: int = 2,
                 when: str = "now", **seed: Any) -> Any:
    cal, ids = await seed_calendar(engine, count=count, **seed)
    await add_connection(engine, settings, "tiktok")
    await add_connection(engine, settings, "instagram")
    outcome = await queue(engine, settings, gateway, cal, when=when)
    return cal, ids, outcome


async def test_publishes_due_intents_and_records_attempts(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    _, _, outcome = await _setup(engine, settings, gateway)
    assert outcome.body.summary.queued == 2
    worker = make_worker(engine, settings, gateway)
    await run_until_idle(worker)
    assert await statuses(engine) == {"published": 2}
    rows = await intent_rows(engine)
    assert all(r.platform_post_id and r.claim_token is None for r in rows)
    ig = next(r for r in rows if r.channel == "instagram")
    assert ig.platform_handle == f"container-{ig.id}"
    steps = [a.step for a in await attempt_rows(engine, ig.id)]
    assert steps == ["preflight", "prepare", "publish"]
    assert sorted(gateway.adapters["tiktok"].calls) == ["preflight", "prepare", "publish"]


async def test_scheduled_intents_wait_for_their_time(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    await _setup(engine, settings, gateway, when="scheduled")
    clock = Clock()
    worker = make_worker(engine, settings, gateway, clock=clock)
    assert await worker.run_once() == 0
    clock.advance(5 * 86400)
    await run_until_idle(worker, clock)
    assert await statuses(engine) == {"published": 2}


async def test_processing_is_polled_to_published(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    gateway.adapters["tiktok"].processing_polls = 3
    await _setup(engine, settings, gateway, count=1)
    clock = Clock()
    worker = make_worker(engine, settings, gateway, clock=clock)
    await worker.run_once()
    assert await statuses(engine) == {"processing": 1}
    await run_until_idle(worker, clock)
    assert await statuses(engine) == {"published": 1}
    assert gateway.adapters["tiktok"].calls.count("publish") == 1
    assert gateway.adapters["tiktok"].calls.count("poll") == 3


async def test_retries_end_published(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    gateway.adapters["tiktok"].script["publish"] = [
        RetryLater("tiktok_rate_limited", "slow down", retry_after=2.0, from_platform=True),
        RetryLater("tiktok_server_error", "5xx before accept", retry_after=1.0),
    ]
    await _setup(engine, settings, gateway, count=1)
    clock = Clock()
    await run_until_idle(make_worker(engine, settings, gateway, clock=clock), clock, step=5)
    (row,) = await intent_rows(engine)
    assert row.status == "published"
    assert row.attempts == 3
    assert gateway.adapters["tiktok"].published == [str(row.id)]
    outcomes = [(a.step, a.outcome) for a in await attempt_rows(engine, row.id)
                if a.step == "publish"]
    assert outcomes == [("publish", "retry"), ("publish", "retry"), ("publish", "published")]


async def test_retries_exhausted_fail_with_the_last_reason(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    gateway.adapters["tiktok"].script["preflight"] = [
        RetryLater("tiktok_server_error", f"5xx #{i}", retry_after=1.0) for i in range(20)]
    await _setup(engine, settings, gateway, count=1)
    clock = Clock()
    worker = make_worker(engine, settings, gateway, clock=clock, max_attempts=4)
    await run_until_idle(worker, clock, step=30)
    (row,) = await intent_rows(engine)
    assert row.status == "failed"
    assert row.attempts == 4
    assert row.error["code"] == "tiktok_server_error"
    assert "gave up after 4 attempts" in row.error["message"]
    assert gateway.adapters["tiktok"].published == []


async def test_permanent_error_fails_with_platform_code(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    gateway.adapters["instagram"].script["publish"] = [
        PermanentError("instagram_media_rejected", "The video has audio on a silent track.",
                       platform_code="2207082")]
    await _setup(engine, settings, gateway, count=2)
    await run_until_idle(make_worker(engine, settings, gateway))
    by = {r.channel: r for r in await intent_rows(engine)}
    assert by["tiktok"].status == "published"
    assert by["instagram"].status == "failed"
    assert by["instagram"].error == {"code": "instagram_media_rejected",
                                     "message": "The video has audio on a silent track.",
                                     "platformCode": "2207082"}


async def test_auth_error_refreshes_once_then_publishes(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    gateway.adapters["tiktok"].script["preflight"] = [
        AuthError("tiktok_auth_invalid", "token expired", platform_code="access_token_invalid")]
    await _setup(engine, settings, gateway, count=1)
    await run_until_idle(make_worker(engine, settings, gateway))
    assert await statuses(engine) == {"published": 1}
    assert gateway.oauths["tiktok"].refreshed == ["rft.local.tiktok"]
    async with engine.connect() as conn:
        row = (await conn.execute(conn_t.select().where(conn_t.c.channel == "tiktok"))).one()
    assert row.refreshed_at is not None and row.status == "active"


async def test_failed_refresh_means_needs_reauth_without_a_loop(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    gateway.adapters["tiktok"].script["preflight"] = [
        AuthError("tiktok_auth_invalid", "token expired") for _ in range(5)]
    gateway.oauths["tiktok"].fail = AuthError("tiktok_refresh_invalid", "invalid_grant")
    await _setup(engine, settings, gateway, count=3,
                 entries=[{"channel": "tiktok", "format": "video"}] * 3)
    clock = Clock()
    await run_until_idle(make_worker(engine, settings, gateway, clock=clock), clock)
    assert await statuses(engine) == {"needs_reauth": 3}
    assert len(gateway.oauths["tiktok"].refreshed) == 1
    async with engine.connect() as conn:
        row = (await conn.execute(conn_t.select().where(conn_t.c.channel == "tiktok"))).one()
    assert row.status == "needs_reauth"


async def test_refresh_before_expiry_persists_rotated_token(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    cal, _ = await seed_calendar(engine, entries=[{"channel": "tiktok", "format": "video"}] * 2)
    await add_connection(engine, settings, "tiktok", expires_in=60)  # inside the margin
    await queue(engine, settings, gateway, cal)
    await run_until_idle(make_worker(engine, settings, gateway))
    assert await statuses(engine) == {"published": 2}
    assert gateway.oauths["tiktok"].refreshed == ["rft.local.tiktok"]  # once, not per intent
    from postplan.core.crypto import TokenCipher
    cipher = TokenCipher(APP_CREDS["TOKEN_ENCRYPTION_KEY"])
    async with engine.connect() as conn:
        row = (await conn.execute(conn_t.select().where(conn_t.c.channel == "tiktok"))).one()
    assert cipher.decrypt(row.refresh_token_enc) == "rft.rotated.1"


async def test_refresh_on_a_one_connection_pool_does_not_wait_on_itself(
    engine: Any, settings_factory: Callable[..., Settings], gateway: StubGateway,
) -> None:
    # The worker's pool has no overflow: a job that held its read connection while the
    # refresh asked for another would wait for the pool timeout (30 s) and fail.
    import asyncio

    from postplan.publishing.worker.loop import worker_engine

    tight = settings_factory(PUBLISH_SERVICE_ENABLED=True, DATABASE_POOL_SIZE=1, **APP_CREDS)
    cal, _ = await seed_calendar(engine, entries=[{"channel": "tiktok", "format": "video"}] * 3)
    await add_connection(engine, tight, "tiktok", expires_in=60)  # inside the margin
    await queue(engine, tight, gateway, cal)
    pool = worker_engine(tight, concurrency=4)
    try:
        if pool.dialect.name == "postgresql":  # SQLite opens a connection per checkout
            assert pool.pool.size() == 1  # type: ignore[attr-defined]
        await asyncio.wait_for(run_until_idle(make_worker(pool, tight, gateway)), timeout=20)
    finally:
        await pool.dispose()
    assert await statuses(engine) == {"published": 3}
    assert gateway.oauths["tiktok"].refreshed == ["rft.local.tiktok"]


async def test_outcome_unknown_without_handle_waits_for_a_human(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    gateway.adapters["tiktok"].script["publish"] = [
        OutcomeUnknown("tiktok_outcome_unknown", "connection reset after send")]
    await _setup(engine, settings, gateway, count=1)
    clock = Clock()
    with capture_logs() as logs:
        await run_until_idle(make_worker(engine, settings, gateway, clock=clock), clock)
    (row,) = await intent_rows(engine)
    assert row.status == "unknown"
    assert row.run_after is None
    assert row.error["code"] == "publish_outcome_unknown"
    assert gateway.adapters["tiktok"].calls.count("publish") == 1
    assert any(e["event"] == "publish.unknown_needs_human" for e in logs)


async def test_outcome_unknown_with_handle_is_reconciled_not_resent(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    gateway.adapters["instagram"].script["publish"] = [
        OutcomeUnknown("instagram_outcome_unknown", "timeout on media_publish")]
    gateway.adapters["instagram"].script["reconcile"] = [None]
    cal, _ = await seed_calendar(engine, entries=[{"channel": "instagram", "format": "reel"}])
    await add_connection(engine, settings, "instagram")
    await queue(engine, settings, gateway, cal)
    clock = Clock()
    worker = make_worker(engine, settings, gateway, clock=clock)
    await worker.run_once()
    assert await statuses(engine) == {"unknown": 1}
    # The platform says it did go live: published, with no second publish call.
    from postplan.channels.base import AdapterResult
    gateway.adapters["instagram"].script["reconcile"] = [
        AdapterResult(state="published", handle="c", platform_post_id="media-1")]
    clock.advance(5)
    await run_until_idle(worker, clock)
    (row,) = await intent_rows(engine)
    assert row.status == "published"
    assert row.platform_post_id == "media-1"
    assert gateway.adapters["instagram"].calls.count("publish") == 1


async def test_reconciled_not_sent_is_sent_once_after_the_lease(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    gateway.adapters["instagram"].script["publish"] = [
        OutcomeUnknown("instagram_outcome_unknown", "timeout")]
    cal, _ = await seed_calendar(engine, entries=[{"channel": "instagram", "format": "reel"}])
    await add_connection(engine, settings, "instagram")
    await queue(engine, settings, gateway, cal)
    clock = Clock()
    await run_until_idle(make_worker(engine, settings, gateway, clock=clock), clock, step=30)
    (row,) = await intent_rows(engine)
    assert row.status == "published"
    assert gateway.adapters["instagram"].calls.count("publish") == 2
    assert len(gateway.adapters["instagram"].published) == 1


async def test_expired_lease_in_submitting_is_reconciled_and_stale_writer_rejected(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    await _setup(engine, settings, gateway, count=1)
    clock = Clock()
    from datetime import timedelta
    (first,) = await claim_due(engine, worker_id="a", limit=10, now=clock(),
                               lease=timedelta(seconds=60))
    await transition(engine, first.row.id, first.token, "claimed", Event.submit, now=clock())
    # Worker "a" vanishes mid-call. After its lease, worker "b" takes over: unknown, not resent.
    clock.advance(61)
    (second,) = await claim_due(engine, worker_id="b", limit=10, now=clock(),
                                lease=timedelta(seconds=60))
    assert second.row.status == "unknown"
    assert second.previous == "submitting"
    with capture_logs() as logs, pytest.raises(StaleClaim):
        await transition(engine, first.row.id, first.token, "submitting", Event.published,
                         now=clock())
    assert any(e["event"] == "publish.stale_claim_rejected" for e in logs)
    worker = make_worker(engine, settings, gateway, clock=clock)
    await worker.process(second)
    (row,) = await intent_rows(engine)
    # TikTok without a publish_id: nothing can be asked; it waits for a human, never resent.
    assert row.status == "unknown"
    assert gateway.adapters["tiktok"].calls.count("publish") == 0


async def test_flag_off_after_queueing_sends_nothing(
    engine: Any, settings_factory: Callable[..., Settings], settings: Settings,
    gateway: StubGateway,
) -> None:
    await _setup(engine, settings, gateway, count=2)
    off = settings_factory(**APP_CREDS)
    await run_until_idle(make_worker(engine, off, gateway))
    assert await statuses(engine) == {"pending": 2}
    assert gateway.adapters["tiktok"].calls == []


@pytest.mark.slow
async def test_two_workers_racing_never_double_post(
    engine: Any, settings: Settings, gateway: StubGateway, db_url: str,
) -> None:
    from postplan.core.db import create_engine

    entries = [{"channel": "instagram" if i % 2 else "tiktok",
                "format": "reel" if i % 2 else "video"} for i in range(200)]
    for adapter in gateway.adapters.values():
        adapter.daily_cap = 10_000
    cal, _ = await seed_calendar(engine, entries=entries)
    await add_connection(engine, settings, "tiktok")
    await add_connection(engine, settings, "instagram")
    await queue(engine, settings, gateway, cal)
    other = create_engine(db_url)
    try:
        w1 = make_worker(engine, settings, gateway, concurrency=16)
        w2 = make_worker(other, settings, gateway, concurrency=16)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(w.run(stop)) for w in (w1, w2)]
        for _ in range(600):
            if (await statuses(engine)).get("published") == 200:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*tasks)
    finally:
        await other.dispose()
    assert await statuses(engine) == {"published": 200}
    published = gateway.adapters["tiktok"].published + gateway.adapters["instagram"].published
    assert len(published) == 200 == len(set(published))


async def test_edits_after_queueing_are_published_and_deletes_cancel(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    import datetime as dt

    from sqlalchemy import delete, update

    from postplan.models import CalendarEntry

    cal, ids = await seed_calendar(engine, entries=[{"channel": "tiktok", "format": "video"}] * 3)
    await add_connection(engine, settings, "tiktok")
    await queue(engine, settings, gateway, cal, when="scheduled")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    async with engine.begin() as conn:
        await conn.execute(update(CalendarEntry).where(CalendarEntry.id == ids[0])
                           .values(caption="Edited after queueing", version=2))
        await conn.execute(update(CalendarEntry).where(CalendarEntry.id == ids[1])
                           .values(scheduled_at=later, version=2))
        await conn.execute(delete(CalendarEntry).where(CalendarEntry.id == ids[2]))
    clock = Clock()
    clock.advance(5 * 86400)
    await run_until_idle(make_worker(engine, settings, gateway, clock=clock), clock)
    by_entry = {r.entry_id: r for r in await intent_rows(engine)}
    assert by_entry[ids[0]].status == "published"
    assert by_entry[ids[0]].entry_version == 2
    assert gateway.adapters["tiktok"].captions == ["Edited after queueing\n\n#tag"]
    assert by_entry[ids[1]].status == "pending"  # moved 30 days out: waits for the new time
    assert by_entry[ids[1]].run_after == later
    assert by_entry[ids[1]].attempts == 0
    assert by_entry[ids[2]].status == "cancelled"
    assert by_entry[ids[2]].error["code"] == "entry_deleted"
