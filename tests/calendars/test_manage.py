"""Entries and calendars a person manages: add, delete, duplicate; rename and delete calendars
(DESIGN §9), on both databases and both transports."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from postplan.core.db import create_engine, create_sessionmaker
from postplan.models import CalendarEntry, EntryRevision
from tests.fixtures.factories import seed_calendar

pytestmark = pytest.mark.timeout(60)

NEW = {"channel": "tiktok", "format": "video", "scheduledAt": "2026-12-24T10:00:00+01:00",
       "hook": "By hand", "caption": "Added by a person", "hashtags": ["#coffee"]}


async def _rows(db_url: str, entry_id: uuid.UUID) -> tuple[CalendarEntry, list[str]]:
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            entry = (await session.execute(select(CalendarEntry).where(
                CalendarEntry.id == entry_id))).scalar_one()
            sources = list((await session.execute(
                select(EntryRevision.source).where(EntryRevision.entry_id == entry_id)
                .order_by(EntryRevision.version))).scalars())
            return entry, sources
    finally:
        await engine.dispose()


async def test_add_duplicate_delete_an_entry(client: httpx.AsyncClient, db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=2)
    base = f"/v1/calendars/{seeded.calendar_id}/entries"
    added = await client.post(base, json=NEW)
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["runId"] is None and body["version"] == 1 and body["hashtags"] == ["coffee"]
    assert body["scheduledAt"] == "2026-12-24T10:00:00+01:00"  # the calendar's zone (Berlin)
    assert added.headers["ETag"] == '"1"'

    # Validated like an edit: a format the channel does not have, a missing time.
    bad = await client.post(base, json={**NEW, "format": "reel"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_format"
    missing = await client.post(base, json={"channel": "tiktok", "format": "video"})
    assert missing.status_code == 422

    # Duplicate to Instagram: video becomes a reel; an explicit format TikTok lacks is 422.
    dup = await client.post(f"{base}/{body['id']}/duplicate",
                            json={"channel": "instagram",
                                  "scheduledAt": "2026-12-25T09:00:00+01:00"})
    assert dup.status_code == 201, dup.text
    copy = dup.json()
    assert copy["id"] != body["id"] and copy["channel"] == "instagram"
    assert copy["format"] == "reel" and copy["caption"] == "Added by a person"
    assert copy["scheduledAt"] == "2026-12-25T09:00:00+01:00"
    wrong = await client.post(f"{base}/{body['id']}/duplicate",
                              json={"channel": "tiktok", "format": "story"})
    assert wrong.status_code == 422 and wrong.json()["code"] == "invalid_format"
    same = await client.post(f"{base}/{body['id']}/duplicate", json={})
    assert same.status_code == 201 and same.json()["scheduledAt"] == body["scheduledAt"]

    listed = (await client.get(base)).json()["items"]
    assert len(listed) == 5

    gone = await client.delete(f"{base}/{body['id']}")
    assert gone.status_code == 204
    listed = [e["id"] for e in (await client.get(base)).json()["items"]]
    assert body["id"] not in listed and len(listed) == 4
    again = await client.delete(f"{base}/{body['id']}")
    assert again.status_code == 404 and again.json()["code"] == "entry_not_found"
    patch = await client.patch(f"{base}/{body['id']}", json={"hook": "x"})
    assert patch.status_code == 404
    # Kept as a revision, not lost.
    row, sources = await _rows(db_url, uuid.UUID(body["id"]))
    assert row.deleted_at is not None and sources == ["manual", "delete"]
    # Exports skip it.
    export = await client.post(f"/v1/calendars/{seeded.calendar_id}/export",
                               json={"format": "json"})
    assert export.status_code == 200
    assert body["id"] not in export.text and copy["id"] in export.text


@pytest.mark.parametrize("transport", ["inprocess"])
async def test_rename_and_delete_a_calendar(client: httpx.AsyncClient, db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=1)
    path = f"/v1/calendars/{seeded.calendar_id}"
    renamed = await client.patch(path, json={"name": "  Winter plan "})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Winter plan"
    assert (await client.get(path)).json()["name"] == "Winter plan"
    empty = await client.patch(path, json={"name": ""})
    assert empty.status_code == 422
    extra = await client.patch(path, json={"name": "x", "timezone": "UTC"})
    assert extra.status_code == 422

    assert (await client.delete(path)).status_code == 204
    assert (await client.get(path)).status_code == 404
    assert (await client.get("/v1/calendars")).json()["items"] == []
    assert (await client.get(f"{path}/entries")).status_code == 404
    assert (await client.delete(path)).status_code == 404


@pytest.mark.parametrize("transport", ["inprocess"])
async def test_another_users_ids_are_404(client: httpx.AsyncClient, db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=1, user_id="someone-else")
    cal = f"/v1/calendars/{seeded.calendar_id}"
    entry = f"{cal}/entries/{seeded.entry_ids[0]}"
    answers = [
        await client.post(f"{cal}/entries", json=NEW),
        await client.post(f"{entry}/duplicate", json={}),
        await client.delete(entry),
        await client.patch(cal, json={"name": "mine now"}),
        await client.delete(cal),
    ]
    assert [a.status_code for a in answers] == [404] * 5
    # Nothing of theirs changed.
    row, sources = await _rows(db_url, seeded.entry_ids[0])
    assert row.deleted_at is None and sources == ["generated"]
