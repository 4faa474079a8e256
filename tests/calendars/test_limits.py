"""MAX_ENTRIES_PER_CALENDAR holds on every path that adds entries: import (all or nothing),
generation (refused before the run; stopped at the insert that would cross it), on SQLite and
Postgres, through real uvicorn (issue 12, item 6)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from postplan.calendars.runs.registry import RunRegistry
from postplan.calendars.runs.store import RunStore
from postplan.config import Settings
from postplan.core.db import create_engine, create_sessionmaker
from postplan.generation.planner import OfflinePlanner
from postplan.generation.schemas import Brief, EntryDraft
from tests.exports.factories import seed_calendar
from tests.fakes.sse_client import live_app, table_counts

pytestmark = [pytest.mark.timeout(90)]

JSON = {"content-type": "application/json"}
LIMIT = 6


def _problem(resp: httpx.Response, limit: int) -> dict[str, Any]:
    assert resp.status_code == 413, resp.text
    body: dict[str, Any] = resp.json()
    assert body["code"] == "calendar_too_large"
    assert body["limit"] == limit and str(limit) in body["detail"]
    return body


async def _entries(client: httpx.AsyncClient, calendar_id: object) -> list[dict[str, Any]]:
    resp = await client.get(f"/v1/calendars/{calendar_id}/entries")
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def _with_new_entries(doc: dict[str, Any], count: int) -> dict[str, Any]:
    template = doc["entries"][0]
    extra = [dict(template, id=str(uuid.uuid4()), caption=f"new {i}", version=1, edited=False)
             for i in range(count)]
    entries = doc["entries"] + extra
    return {**doc, "entries": entries, "entryCount": len(entries)}


@pytest.mark.parametrize("transport", ["live"], indirect=True)
async def test_import_beyond_the_cap_is_refused_whole(
    client_factory: Callable[..., Any], settings_factory: Callable[..., Settings], db_url: str,
) -> None:
    seeded = await seed_calendar(db_url, entries=4)
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, MAX_ENTRIES_PER_CALENDAR=LIMIT)
    async with client_factory(settings) as client:
        exported = await client.post(f"/v1/calendars/{seeded.calendar_id}/export",
                                     json={"format": "json"})
        doc = json.loads(exported.content)
        before = await _entries(client, seeded.calendar_id)
        assert len(before) == 4

        # 4 held + 3 new > 6: refused, and nothing of it stored (the edit included).
        doc["entries"][0]["caption"] = "edited in the same file"
        over = _with_new_entries(doc, 3)
        body = _problem(await client.post("/v1/calendars/import", content=json.dumps(over),
                                          headers=JSON), LIMIT)
        assert (body["entryCount"], body["adding"]) == (4, 3)
        assert await _entries(client, seeded.calendar_id) == before

        # A file naming a new calendar with more entries than the cap: no calendar is created.
        fresh = _with_new_entries({**doc, "calendar": {**doc["calendar"],
                                                       "id": str(uuid.uuid4())}}, 3)
        fresh["entries"] = [dict(e, id=str(uuid.uuid4())) for e in fresh["entries"]]
        listed = (await client.get("/v1/calendars")).json()["items"]
        _problem(await client.post("/v1/calendars/import", content=json.dumps(fresh),
                                   headers=JSON), LIMIT)
        assert (await client.get("/v1/calendars")).json()["items"] == listed

        # Up to the cap is fine; at the cap, edits still are (they add nothing).
        fits = _with_new_entries(doc, 2)
        ok = await client.post("/v1/calendars/import", content=json.dumps(fits), headers=JSON)
        assert ok.status_code == 200, ok.text
        assert ok.json()["created"] == 2
        fits["entries"][1]["caption"] = "edited at the cap"
        again = await client.post("/v1/calendars/import", content=json.dumps(fits),
                                  headers=JSON)
        assert again.status_code == 200 and again.json()["updated"] == 1
        assert len(await _entries(client, seeded.calendar_id)) == LIMIT
        one_more = _with_new_entries(fits, 1)
        _problem(await client.post("/v1/calendars/import", content=json.dumps(one_more),
                                   headers=JSON), LIMIT)
        assert len(await _entries(client, seeded.calendar_id)) == LIMIT


@pytest.mark.live
async def test_generation_that_would_overflow_is_refused_before_it_starts(
    settings_factory: Callable[..., Settings], db_url: str,
) -> None:
    seeded = await seed_calendar(db_url, entries=4)
    brief = {"brand": "Acme", "startDate": "2026-12-01", "days": 7, "channels": ["tiktok"],
             "postsPerWeek": 3, "calendarId": str(seeded.calendar_id)}
    settings = settings_factory(CALENDAR_SERVICE_ENABLED=True, MAX_ENTRIES_PER_CALENDAR=LIMIT)
    async with live_app(settings) as (_app, client):
        before = await table_counts(db_url)
        body = _problem(await client.post("/v1/ai/calendar", json=brief), LIMIT)
        assert (body["entryCount"], body["adding"]) == (4, 3)
        # A brief bigger than the cap on its own, for a new calendar.
        big = {k: v for k, v in brief.items() if k != "calendarId"} | {"days": 30}
        _problem(await client.post("/v1/ai/calendar", json=big), LIMIT)
        assert await table_counts(db_url) == before  # no run, no calendar, no entry

        small = dict(brief, postsPerWeek=2)
        async with client.stream("POST", "/v1/ai/calendar", json=small) as resp:
            assert resp.status_code == 200
            text = (await resp.aread()).decode()
        assert '"status": "completed"' in text or '"status":"completed"' in text
    assert (await table_counts(db_url))["calendar_entries"] == LIMIT


class Overshooting:
    """A generator that announces fewer entries than it writes (a model may do so)."""

    mode = "ai"

    def expected_entries(self, brief: Brief) -> int:
        return 2

    async def stream(self, brief: Brief) -> AsyncIterator[EntryDraft]:
        async for draft in OfflinePlanner().stream(brief):
            yield draft


async def test_a_run_that_overshoots_stops_at_the_cap(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        store = RunStore(create_sessionmaker(engine), max_entries=LIMIT)
        registry = RunRegistry(store)
        brief = Brief.model_validate({"brand": "Acme", "startDate": "2026-12-01", "days": 14,
                                      "channels": ["tiktok", "instagram"]})
        live = await registry.begin("local", brief, Overshooting())
        assert await registry.wait_idle(30)
        run = await store.get_run("local", live.ref.run_id)
        assert run is not None
        assert run.status == "failed"
        assert run.error is not None and run.error["code"] == "calendar_too_large"
        assert str(LIMIT) in run.error["message"]
        await store.close()
    finally:
        await engine.dispose()
    counts = await table_counts(db_url)
    assert 0 < counts["calendar_entries"] <= LIMIT
    assert counts["calendar_entries"] == run.entry_count
