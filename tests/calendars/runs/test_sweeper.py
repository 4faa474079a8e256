"""No run stays `running` forever: the sweeper settles runs whose heartbeat went stale."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from postplan.calendars.runs.states import RunStatus
from postplan.calendars.runs.store import RunStore
from postplan.config import Settings
from postplan.core.db import create_sessionmaker, utcnow
from postplan.models import Calendar, CalendarRun
from tests.fakes.sse_client import live_app, read_stream

pytestmark = pytest.mark.timeout(60)


async def _seed_runs(db_url: str, heartbeats: list[dt.datetime | None]) -> list[uuid.UUID]:
    engine = create_async_engine(db_url)
    try:
        maker = create_sessionmaker(engine)
        async with maker() as session:
            calendar = Calendar(id=uuid.uuid4(), user_id="local", name="c", brief={},
                                timezone="UTC")
            session.add(calendar)
            await session.flush()
            ids = []
            for beat in heartbeats:
                created = (beat or utcnow() - dt.timedelta(hours=1))
                run = CalendarRun(id=uuid.uuid4(), calendar_id=calendar.id, user_id="local",
                                  mode="ai", status="running", brief={}, expected_entries=5,
                                  entry_count=1, heartbeat_at=beat, created_at=created,
                                  updated_at=created)
                session.add(run)
                ids.append(run.id)
            await session.commit()
        return ids
    finally:
        await engine.dispose()


@pytest.mark.live
async def test_stale_runs_are_settled_at_startup_and_replay_says_so(
    settings_factory: Callable[..., Settings], db_url: str
) -> None:
    now = utcnow()
    stale, no_beat, fresh = await _seed_runs(
        db_url, [now - dt.timedelta(minutes=10), None, now - dt.timedelta(seconds=5)])
    async with live_app(settings_factory(CALENDAR_SERVICE_ENABLED=True)) as (_app, client):
        for run_id in (stale, no_beat):
            body = (await client.get(f"/v1/ai/calendar/runs/{run_id}")).json()
            assert body["status"] == "failed"
            assert body["error"]["code"] == "stale_run"
            assert body["finishedAt"] is not None
            events = await read_stream(client, "GET", f"/v1/ai/calendar/runs/{run_id}/events",
                                       headers={"Last-Event-ID": f"{run_id}:1"})
            assert [e.event for e in events] == ["error", "done"]
            assert events[0].data["code"] == "stale_run"
            assert events[1].data == {"runId": str(run_id), "status": "failed",
                                      "entryCount": 1}
        body = (await client.get(f"/v1/ai/calendar/runs/{fresh}")).json()
        assert body["status"] == "running"


async def test_sweep_only_touches_stale_running_runs(db_url: str) -> None:
    now = utcnow()
    stale, fresh, mine = await _seed_runs(db_url, [now - dt.timedelta(minutes=3),
                                                   now - dt.timedelta(seconds=30),
                                                   now - dt.timedelta(minutes=3)])
    engine = create_async_engine(db_url)
    try:
        store = RunStore(create_sessionmaker(engine))
        assert await store.sweep(dt.timedelta(minutes=2), exclude={mine}) == [stale]
        assert await store.sweep(dt.timedelta(minutes=2), exclude={mine}) == []
        executing = await store.get_run("local", mine)
        assert executing is not None and executing.status == "running"
        settled = await store.get_run("local", stale)
        assert settled is not None and settled.status == "failed"
        running = await store.get_run("local", fresh)
        assert running is not None and running.status == "running"
        # A run the sweeper settled keeps its verdict if its executor reports late.
        await store.finish(stale, RunStatus.completed, 5, None)
        again = await store.get_run("local", stale)
        assert again is not None and again.status == "failed"
        await store.close()
    finally:
        await engine.dispose()
