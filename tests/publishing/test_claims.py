"""Claims and fenced moves (publishing/worker/claims.py) on both databases.

On Postgres a move and its attempt rows are one statement outside an explicit transaction;
these tests pin down that it is still all or nothing and still fenced by the claim token.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from postplan.config import Settings
from postplan.core.db import create_engine
from postplan.publishing.states import Event
from postplan.publishing.worker.claims import (
    Claimed,
    StaleClaim,
    attempt_row,
    claim_due,
    transition,
    update_claimed,
)
from tests.publishing.conftest import APP_CREDS, StubGateway, seed_calendar
from tests.publishing.helpers import Clock, add_connection, attempt_rows, intent_rows, queue


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(PUBLISH_SERVICE_ENABLED=True, **APP_CREDS)


async def _claimed(engine: Any, settings: Settings, gateway: StubGateway,
                   clock: Clock) -> Claimed:
    cal, _ = await seed_calendar(engine, count=1)
    await add_connection(engine, settings, "tiktok")
    await queue(engine, settings, gateway, cal)
    clock.advance(1)  # queued "now" by the real clock, a moment after this one was made
    (claimed,) = await claim_due(engine, worker_id="w", limit=10, now=clock(),
                                 lease=timedelta(seconds=60))
    return claimed


def _logs(claimed: Claimed, clock: Clock) -> list[dict[str, Any]]:
    now = clock()
    return [
        attempt_row(claimed.row, "preflight", "ok", started=now, finished=now),
        attempt_row(claimed.row, "prepare", "RetryLater", started=now, finished=now,
                    error={"code": "rate_limited", "message": "slow down — ünïcode"},
                    detail={"seconds": 0.25, "handles": ["a", "b"]}),
    ]


async def test_move_writes_status_fields_and_every_attempt_row(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    clock = Clock()
    claimed = await _claimed(engine, settings, gateway, clock)
    status = await transition(engine, claimed.row.id, claimed.token, "claimed", Event.submit,
                              now=clock(), log_rows=_logs(claimed, clock),
                              platform_handle="handle-1")
    assert status == "submitting"
    (row,) = await intent_rows(engine)
    assert (row.status, row.platform_handle, row.claim_token) == \
        ("submitting", "handle-1", claimed.token)
    logged = await attempt_rows(engine, claimed.row.id)
    assert [(a.step, a.outcome) for a in logged] == [("preflight", "ok"),
                                                       ("prepare", "RetryLater")]
    assert logged[0].error is None and logged[0].detail is None
    assert logged[1].error == {"code": "rate_limited", "message": "slow down — ünïcode"}
    assert logged[1].detail == {"seconds": 0.25, "handles": ["a", "b"]}
    assert logged[1].started_at == clock()


@pytest.mark.parametrize("wrong", ["token", "status"])
async def test_stale_move_writes_nothing_not_even_its_attempt_rows(
    engine: Any, settings: Settings, gateway: StubGateway, wrong: str,
) -> None:
    clock = Clock()
    claimed = await _claimed(engine, settings, gateway, clock)
    token = "someone-else" if wrong == "token" else claimed.token
    # A worker that believes the intent is further along than it is (a lost race).
    current, move = ("submitting", Event.published) if wrong == "status" else \
        ("claimed", Event.submit)
    with pytest.raises(StaleClaim):
        await transition(engine, claimed.row.id, token, current, move, now=clock(),
                         log_rows=_logs(claimed, clock), platform_handle="never")
    with pytest.raises(StaleClaim):
        await update_claimed(engine, claimed.row.id, token, current,
                             log_rows=_logs(claimed, clock), platform_handle="never")
    (row,) = await intent_rows(engine)
    assert (row.status, row.platform_handle) == ("claimed", None)
    assert await attempt_rows(engine, claimed.row.id) == []


async def test_released_intent_is_claimed_by_one_worker_only(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    clock = Clock()
    claimed = await _claimed(engine, settings, gateway, clock)
    await transition(engine, claimed.row.id, claimed.token, "claimed", Event.retry_later,
                     now=clock(), release=True, run_after=clock())
    clock.advance(1)
    first = await claim_due(engine, worker_id="a", limit=10, now=clock(),
                            lease=timedelta(seconds=60))
    second = await claim_due(engine, worker_id="b", limit=10, now=clock(),
                             lease=timedelta(seconds=60))
    assert [c.row.claimed_by for c in first] == ["a"] and second == []
    assert first[0].previous == "pending"


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # SQLite: a transaction
async def test_postgres_move_with_log_rows_is_one_statement(
    db_url: str, settings: Settings, gateway: StubGateway,
) -> None:
    engine = create_engine(db_url, pre_ping=False)
    statements: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _seen(_c: Any, _cur: Any, sql: str, *_a: Any) -> None:
        statements.append(sql)

    try:
        clock = Clock()
        claimed = await _claimed(engine, settings, gateway, clock)
        statements.clear()
        await transition(engine, claimed.row.id, claimed.token, "claimed", Event.submit,
                         now=clock(), log_rows=_logs(claimed, clock))
        assert len(statements) == 1, statements
        assert statements[0].lstrip().upper().startswith("WITH")
        assert len(await attempt_rows(engine, claimed.row.id)) == 2
    finally:
        await engine.dispose()


async def test_write_is_retried_while_the_database_is_unreachable_and_only_then(
    engine: Any, settings: Settings, gateway: StubGateway, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Unit-level: the first tries fail as a cut connection would. The real outage (Postgres
    # stopped and started under a worker process) is tests/faults/test_worker_db_restart.py.
    from postplan.publishing.worker import claims

    clock = Clock()
    claimed = await _claimed(engine, settings, gateway, clock)
    monkeypatch.setattr(claims, "_WRITE_RETRY_DELAYS", (0.01, 0.01, 0.01))
    real = claims._fenced_once
    failures = [ConnectionRefusedError("connection refused"), TimeoutError()]

    async def flaky(*args: Any, **kwargs: Any) -> int:
        if failures:
            raise failures.pop(0)
        return await real(*args, **kwargs)

    monkeypatch.setattr(claims, "_fenced_once", flaky)
    await transition(engine, claimed.row.id, claimed.token, "claimed", Event.submit,
                     now=clock(), log_rows=_logs(claimed, clock))
    (row,) = await intent_rows(engine)
    assert row.status == "submitting" and failures == []
    assert len(await attempt_rows(engine, claimed.row.id)) == 2  # once, not once per try

    calls = 0

    async def broken(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        raise ValueError("a bad value is not an outage")

    monkeypatch.setattr(claims, "_fenced_once", broken)
    with pytest.raises(ValueError, match="not an outage"):
        await update_claimed(engine, claimed.row.id, claimed.token, "submitting",
                             platform_handle="h")
    assert calls == 1

    async def down(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        raise OSError(errno.ENETUNREACH, "network unreachable")

    calls = 0
    monkeypatch.setattr(claims, "_fenced_once", down)
    with pytest.raises(OSError, match="unreachable"):
        await update_claimed(engine, claimed.row.id, claimed.token, "submitting",
                             platform_handle="h")
    assert calls == 4  # the first try and one per delay, then it gives up


@pytest.mark.parametrize("change", ["none", "edited", "deleted"])
async def test_claim_reads_the_entry_version_as_saved_now(
    engine: Any, settings: Settings, gateway: StubGateway, change: str,
) -> None:
    from sqlalchemy import delete, update

    from postplan.models import CalendarEntry

    clock = Clock()
    cal, (entry_id,) = await seed_calendar(engine, count=1)
    await add_connection(engine, settings, "tiktok")
    await queue(engine, settings, gateway, cal)
    async with engine.begin() as conn:
        if change == "edited":
            await conn.execute(update(CalendarEntry).where(CalendarEntry.id == entry_id)
                               .values(version=CalendarEntry.version + 1))
        elif change == "deleted":
            await conn.execute(delete(CalendarEntry).where(CalendarEntry.id == entry_id))
    clock.advance(1)
    (claimed,) = await claim_due(engine, worker_id="w", limit=10, now=clock(),
                                 lease=timedelta(seconds=60))
    expected = {"none": claimed.row.entry_version, "edited": claimed.row.entry_version + 1,
                "deleted": None}[change]
    assert claimed.entry_version_now == expected


@pytest.mark.parametrize("connection", ["active", "needs_reauth", "deleted"])
async def test_claim_reads_the_channel_connection_along_on_postgres(
    engine: Any, settings: Settings, gateway: StubGateway, backend: str, connection: str,
) -> None:
    from sqlalchemy import delete, update

    from postplan.publishing.tables import connections as conn_t

    clock = Clock()
    cal, _ = await seed_calendar(engine, count=1)
    await add_connection(engine, settings, "tiktok", account_id="acct-1")
    await queue(engine, settings, gateway, cal)
    async with engine.begin() as conn:
        if connection == "needs_reauth":
            await conn.execute(update(conn_t).values(status="needs_reauth"))
        elif connection == "deleted":
            await conn.execute(delete(conn_t))
    clock.advance(1)
    (claimed,) = await claim_due(engine, worker_id="w", limit=10, now=clock(),
                                 lease=timedelta(seconds=60))
    if backend == "sqlite":  # read by the job instead (one more statement per post)
        assert claimed.connection is None
        return
    assert claimed.connection is not None
    stored = claimed.connection.row
    if connection == "deleted":
        assert stored is None
    else:
        assert (stored.status, stored.account_id) == (connection, "acct-1")
        assert stored.access_token_enc and stored.expires_at is not None


async def test_claim_reads_no_entry_version_once_the_calendar_is_someone_elses(
    engine: Any, settings: Settings, gateway: StubGateway,
) -> None:
    # The claim reads each entry's version in its own statement, counting an entry only while
    # its calendar belongs to the same user (what the job's re-read and `list_entries` do). A
    # row changed behind postplan's back (calendar handed to another user) must read as gone
    # on both databases; on Postgres the ownership EXISTS once ranged over every intent.
    from sqlalchemy import update

    from postplan.models import Calendar

    clock = Clock()
    cal, _ = await seed_calendar(engine, count=1)
    await add_connection(engine, settings, "tiktok")
    await queue(engine, settings, gateway, cal)
    other, _ = await seed_calendar(engine, count=1)  # another intent whose calendar is intact
    await queue(engine, settings, gateway, other)
    async with engine.begin() as conn:
        await conn.execute(update(Calendar).where(Calendar.id == cal).values(user_id="mallory"))
    clock.advance(1)
    claimed = await claim_due(engine, worker_id="w", limit=10, now=clock(),
                              lease=timedelta(seconds=60))
    versions = {c.row.calendar_id: c.entry_version_now for c in claimed}
    assert versions == {cal: None, other: 1}
