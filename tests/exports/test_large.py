"""10,000 entries: every format exports completely, in one pass, with flat memory."""

from __future__ import annotations

import json
import tracemalloc
import uuid

import httpx
import pytest

from postplan.calendars import service as calendars
from postplan.core.db import create_engine, create_sessionmaker
from postplan.exports import service
from postplan.exports.files import ExportFormat
from tests.exports.factories import seed_calendar
from tests.exports.parsing import csv_rows, icalendar_events

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


@pytest.mark.parametrize("transport", ["inprocess"])
async def test_ten_thousand_entries_in_every_format(live_client: httpx.AsyncClient,
                                                    db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=10_000,
                                 timezones=["Europe/Paris", "UTC", "America/New_York"])
    url = f"/v1/calendars/{seeded.calendar_id}/export"
    body = (await live_client.post(url, json={"format": "json"})).content
    doc = json.loads(body)
    assert doc["entryCount"] == 10_000 == len(doc["entries"])
    assert len({e["id"] for e in doc["entries"]}) == 10_000
    assert len(csv_rows((await live_client.post(url, json={"format": "csv"})).content)) == 10_000
    bulk = (await live_client.post(url, json={"format": "csv-bulk"})).content
    assert len(csv_rows(bulk)) == 10_000
    ics = (await live_client.post(url, json={"format": "ics"})).content
    assert len(icalendar_events(ics)) == 10_000
    dry = (await live_client.post(url, json={"format": "ics", "dryRun": True})).json()
    assert dry["entryCount"] == 10_000 and dry["bytes"] == len(ics)


async def _peak(coro_factory: object) -> int:
    tracemalloc.start()
    try:
        await coro_factory()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_export_memory_stays_below_loading_the_calendar_once(db_url: str) -> None:
    """Streaming in keyset batches into a spool must cost less than one full load of the rows
    (a design that loaded everything, then rendered, would cost more than that)."""
    seeded = await seed_calendar(db_url, entries=3_000)
    engine = create_engine(db_url)
    maker = create_sessionmaker(engine)
    cal_id: uuid.UUID = seeded.calendar_id

    async def load_all() -> None:
        async with maker() as session:
            rows, _ = await calendars.list_entries(session, "local", cal_id)
            assert len(rows) == 3_000

    async def export(fmt: ExportFormat) -> None:
        async with maker() as session:
            file = await service.export_calendar(session, "local", cal_id, fmt)
            assert file.entry_count == 3_000
            for _chunk in file.chunks():
                pass

    try:
        full_load = await _peak(load_all)
        for fmt in ExportFormat:
            assert await _peak(lambda fmt=fmt: export(fmt)) < full_load, fmt
    finally:
        await engine.dispose()
