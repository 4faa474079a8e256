"""Hostile and careless input to the calendar endpoints: every one a 4xx problem, never a 500,
and nothing already saved is changed. Through real uvicorn, on SQLite and Postgres."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from postplan.config import Settings
from postplan.core.db import create_engine, create_sessionmaker
from postplan.models import CalendarEntry
from tests.fixtures.factories import seed_calendar

pytestmark = [pytest.mark.timeout(90), pytest.mark.live]
live_only = pytest.mark.parametrize("transport", ["live"], indirect=True)


@pytest.fixture
async def api(client_factory: Callable[..., Any],
              settings_factory: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    # Channel app credentials set: a live-publishing app without them raises a process-wide
    # "adapter config missing" gauge that later alert tests would see.
    settings = settings_factory(CALENDAR_SERVICE_ENABLED=True, PUBLISH_SERVICE_ENABLED=True,
                                TIKTOK_CLIENT_KEY="ck", TIKTOK_CLIENT_SECRET="cs",
                                INSTAGRAM_APP_ID="ia", INSTAGRAM_APP_SECRET="is")
    async with client_factory(settings) as client:
        yield client


def assert_problem(res: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert res.status_code == status, res.text
    assert res.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = res.json()
    if code is not None:
        assert body["code"] == code, body
    return body


def cursor_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@live_only
async def test_if_match_with_odd_characters_is_422(api: httpx.AsyncClient, db_url: str) -> None:
    """`"²".isdigit()` is True and `int("²")` raises: that used to answer 500."""
    seeded = await seed_calendar(db_url, entries=1)
    url = f"/v1/calendars/{seeded.calendar_id}/entries/{seeded.entry_ids[0]}"
    before = (await api.get(url.rsplit("/entries", 1)[0])).json()
    for value in (b"\xb2", b'"\xb9"', b'W/"3\xb3"', b"\xbd", b"1 2", b"0x1", b"-1", b"9" * 20):
        res = await api.patch(url, json={"hook": "changed"}, headers={"If-Match": value})
        assert_problem(res, 422)
    assert (await api.get(url.rsplit("/entries", 1)[0])).json() == before
    ok = await api.patch(url, json={"hook": "changed"}, headers={"If-Match": 'W/"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'


@live_only
async def test_last_event_id_with_odd_characters_is_422(api: httpx.AsyncClient,
                                                        db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=2)
    url = f"/v1/ai/calendar/runs/{seeded.run_id}/events"
    for value in (b"\xb9", f"{seeded.run_id}:".encode() + b"\xb2", b"1\xb3", b"-1",
                  b"1" * 12, b"not-a-run:1"):
        assert_problem(await api.get(url, headers={"Last-Event-ID": value}), 422)
    for value in ("\u0663", "\u00b9", "1\u00b2", "\uff11"):
        assert_problem(await api.get(url, params={"lastEventId": value}), 422)
    replay = await api.get(url, headers={"Last-Event-ID": f"{seeded.run_id}:1"})
    assert replay.status_code == 200


@live_only
async def test_cursors_this_service_did_not_issue_are_422(api: httpx.AsyncClient,
                                                          db_url: str) -> None:
    """Instants at the ends of the calendar (+14:00 in year 1 overflowed in the driver), other
    offsets, and undecodable text: each is `invalid_cursor`, on all three paged listings."""
    seeded = await seed_calendar(db_url, entries=3)
    row = "00000000-0000-0000-0000-000000000001"
    cursors = [
        cursor_of(f"0001-01-01T00:00:00+14:00|{row}"),
        cursor_of(f"9999-12-31T23:59:59-14:00|{row}"),
        cursor_of(f"2026-01-01T00:00:00+01:00|{row}"),
        cursor_of(f"2026-01-01T00:00:00|{row}"),
        cursor_of("2026-01-01T00:00:00+00:00|not-a-uuid"),
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode().rstrip("="),
        "-" * 199,
    ]
    paths = ["/v1/calendars", f"/v1/calendars/{seeded.calendar_id}/entries",
             "/v1/publish-intents"]
    for path in paths:
        for cursor in cursors:
            assert_problem(await api.get(path, params={"cursor": cursor}), 422)
        # Characters a cursor never holds are refused by the documented pattern.
        assert_problem(await api.get(path, params={"cursor": "é"}), 422)
    page = (await api.get(paths[1], params={"limit": 2})).json()
    rest = await api.get(paths[1], params={"limit": 2, "cursor": page["nextCursor"]})
    assert rest.status_code == 200 and len(rest.json()["items"]) == 1


@live_only
async def test_nul_and_overlong_text_in_an_edit_is_422(api: httpx.AsyncClient,
                                                       db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=1)
    url = f"/v1/calendars/{seeded.calendar_id}/entries/{seeded.entry_ids[0]}"
    for body in ({"hook": "a\x00b"}, {"pillar": "\x00"}, {"callToAction": "x\x00"},
                 {"assetNotes": "\x00" * 3}, {"hashtags": ["ok", "no\x00"]},
                 {"hook": "x" * 301}, {"hashtags": ["x" * 101]}, {"hashtags": ["a"] * 31},
                 {"media": [{"url": "https://example.com/" + "a" * 2100, "type": "image"}]}):
        assert_problem(await api.patch(url, json=body), 422, "validation_failed")
    entry = (await api.get(f"/v1/calendars/{seeded.calendar_id}/entries")).json()["items"][0]
    assert entry["version"] == 1 and entry["hook"] == "Hook number 0"


@live_only
async def test_edits_to_the_ends_of_the_calendar_are_refused(api: httpx.AsyncClient,
                                                             db_url: str) -> None:
    """Year 1 or 9999 used to be stored, and then every read of the calendar answered 500."""
    seeded = await seed_calendar(db_url, entries=1, timezone="Pacific/Kiritimati")
    url = f"/v1/calendars/{seeded.calendar_id}/entries/{seeded.entry_ids[0]}"
    for moment in ("9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+14:00",
                   "1999-12-31T23:59:59+00:00", "2101-01-01T00:00:00+00:00",
                   "2100-12-31T23:00:00-05:00"):
        body = assert_problem(await api.patch(url, json={"scheduledAt": moment}), 422)
        assert body["errors"][0]["type"] == "date_out_of_range"
    assert_problem(await api.patch(url, json={"scheduledAt": 1767225600}), 422)
    ok = await api.patch(url, json={"scheduledAt": "2100-12-31T23:59:59+00:00"})
    assert ok.status_code == 200
    assert (await api.get(f"/v1/calendars/{seeded.calendar_id}")).status_code == 200


@live_only
async def test_rows_stored_before_the_bounds_still_read_export_and_publish(
        api: httpx.AsyncClient, db_url: str) -> None:
    """Rows written by an older version (year 1, year 9999, a host-only zone name) must not
    make every later read fail: they are shown in UTC instead."""
    seeded = await seed_calendar(db_url, entries=3, timezone="Pacific/Kiritimati")
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            for entry_id, values in zip(seeded.entry_ids, [
                {"scheduled_at": dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC)},
                {"scheduled_at": dt.datetime(1, 1, 1, 0, 30, tzinfo=dt.UTC),
                 "timezone": "America/Adak"},
                {"timezone": "localtime"},
            ], strict=True):
                await session.execute(update(CalendarEntry)
                                      .where(CalendarEntry.id == entry_id).values(**values))
            await session.commit()
    finally:
        await engine.dispose()
    cid = seeded.calendar_id
    calendar = await api.get(f"/v1/calendars/{cid}")
    assert calendar.status_code == 200, calendar.text
    shown = {e["id"]: e["scheduledAt"] for e in calendar.json()["entries"]}
    assert shown[str(seeded.entry_ids[0])] == "9999-12-31T23:00:00+00:00"
    assert shown[str(seeded.entry_ids[2])].endswith("+00:00")
    first = (await api.get(f"/v1/calendars/{cid}/entries", params={"limit": 1})).json()
    assert (await api.get(f"/v1/calendars/{cid}/entries",
                          params={"cursor": first["nextCursor"]})).status_code == 200
    for body in ({"format": "json"}, {"format": "csv"}, {"format": "csv", "layout": "bulk"},
                 {"format": "ics"}):
        res = await api.post(f"/v1/calendars/{cid}/export", json={**body, "dryRun": False})
        assert res.status_code == 200, (body, res.text)
    token = (await api.post(f"/v1/calendars/{cid}/feed")).json()["token"]
    feed = await api.get(f"/v1/feeds/{token}.ics")
    assert feed.status_code == 200 and "DTSTART:00010101T003000Z" in feed.text
    assert (await api.post(f"/v1/calendars/{cid}/publish", json={"dryRun": True})).status_code \
        in (200, 207)


@live_only
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_zone_names_that_depend_on_the_host_are_refused(api: httpx.AsyncClient) -> None:
    brief = {"brand": "Acme", "startDate": "2026-12-01", "days": 3}
    for zone in ("localtime", "right/UTC", "posix/Europe/Berlin", "Factory", "posixrules",
                 "europe/berlin", "A" * 5000, "UTC\x00", "../../etc/passwd", "/etc/localtime",
                 ""):
        res = await api.post("/v1/ai/calendar", json={**brief, "timezone": zone})
        body = assert_problem(res, 422, "validation_failed")
        assert body["errors"][0]["field"] == "timezone"
    for zone in ("Europe/Berlin", "UTC", "US/Eastern", "Etc/GMT-14"):
        async with api.stream("POST", "/v1/ai/calendar",
                              json={**brief, "timezone": zone}) as res:
            assert res.status_code == 200
            await res.aread()
