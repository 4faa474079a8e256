"""Every format read back by parsers postplan did not write: icalendar, ics, csv, jsonschema.

The seeded text is hostile on purpose (commas, quotes, CR/LF, emoji, Arabic, Hebrew, formula
triggers, a leading quote, backslashes) and must come back exactly.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import httpx
import pytest

from postplan.channels.compose import compose
from tests.exports.factories import TRICKY_TEXTS, entry_values, seed_calendar
from tests.exports.parsing import (
    csv_rows,
    icalendar_events,
    ics_events,
    ics_text,
    unescape_spreadsheet,
    validate_json_export,
)

pytestmark = pytest.mark.timeout(90)

ZONES = ["Europe/Paris", "America/New_York", "UTC", "Asia/Kolkata", "Asia/Jerusalem"]
START = dt.datetime(2026, 10, 20, 17, 0, tzinfo=dt.UTC)  # spans the end of DST in Europe/US
N = 2 * len(TRICKY_TEXTS)
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def category(value: str) -> str:
    """Documented: commas inside a category are dropped (readers split on them)."""
    return " ".join(value.replace(",", " ").split())


def expected(i: int) -> dict[str, Any]:
    return entry_values(i, timezone=ZONES[i % len(ZONES)], start=START, texts=TRICKY_TEXTS)


def post_text(v: dict[str, Any]) -> str:
    """The text the channel receives, from the one composer (hook, caption, CTA, hashtags)."""
    return compose(v["hook"], v["caption"], v["call_to_action"], v["hashtags"], v["channel"],
                   v["format"]).text


def summary(v: dict[str, Any]) -> str:
    name = {"tiktok": "TikTok", "instagram": "Instagram"}[v["channel"]]
    return f"{name}: {v['hook']}"


async def _export(client: httpx.AsyncClient, calendar_id: object, fmt: str) -> bytes:
    resp = await client.post(f"/v1/calendars/{calendar_id}/export", json={"format": fmt})
    assert resp.status_code == 200, resp.text
    return resp.content


class SeededIds(dict[str, int]):
    """entry id → factory index, plus the calendar's id."""

    calendar_id: str


@pytest.fixture
async def seeded_ids(db_url: str) -> SeededIds:
    seeded = await seed_calendar(db_url, entries=N, timezones=ZONES, start=START,
                                 name="Ramadan & Chanukah, \"special\" 🌙")
    ids = SeededIds({str(eid): i for i, eid in enumerate(seeded.entry_ids)})
    ids.calendar_id = str(seeded.calendar_id)
    return ids


def _calendar_id(ids: SeededIds) -> str:
    return ids.calendar_id


async def test_json_matches_published_schema_and_text_is_exact(
        live_client: httpx.AsyncClient, seeded_ids: SeededIds) -> None:
    body = await _export(live_client, _calendar_id(seeded_ids), "json")
    doc = validate_json_export(body)
    assert doc["format"] == "postplan.calendar" and doc["version"] == 1
    assert doc["calendar"]["name"] == "Ramadan & Chanukah, \"special\" 🌙"
    assert doc["entryCount"] == N == len(doc["entries"])
    assert "\\u" not in body.decode("utf-8")  # UTF-8 as is, not escaped
    for item in doc["entries"]:
        v = expected(seeded_ids[item["id"]])
        for key, field in [("hook", "hook"), ("caption", "caption"), ("pillar", "pillar"),
                           ("callToAction", "call_to_action"), ("assetNotes", "asset_notes"),
                           ("hashtags", "hashtags"), ("media", "media"), ("format", "format")]:
            assert item[key] == v[field], key
        moment = dt.datetime.fromisoformat(item["scheduledAt"])
        assert moment == v["scheduled_at"]
        assert moment.utcoffset() == v["scheduled_at"].astimezone(
            zoneinfo.ZoneInfo(v["timezone"])).utcoffset()
    times = [dt.datetime.fromisoformat(e["scheduledAt"]) for e in doc["entries"]]
    assert times == sorted(times)


async def test_csv_read_by_the_csv_module_round_trips_exactly(
        live_client: httpx.AsyncClient, seeded_ids: SeededIds) -> None:
    body = await _export(live_client, _calendar_id(seeded_ids), "csv")
    assert body.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8 correctly
    rows = csv_rows(body)
    assert len(rows) == N
    assert list(rows[0]) == [
        "id", "calendarId", "runId", "channel", "format", "scheduledAt", "timezone", "pillar",
        "hook", "caption", "hashtags", "callToAction", "assetNotes", "media", "version",
        "edited", "updatedAt"]
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(TRIGGERS), f"formula not neutralised: {cell!r}"
        v = expected(seeded_ids[row["id"]])
        assert unescape_spreadsheet(row["hook"]) == v["hook"]
        assert unescape_spreadsheet(row["caption"]) == v["caption"]
        assert unescape_spreadsheet(row["assetNotes"]) == v["asset_notes"]
        assert unescape_spreadsheet(row["callToAction"]) == v["call_to_action"]
        assert row["hashtags"].split(" ") == v["hashtags"]
        assert dt.datetime.fromisoformat(row["scheduledAt"]) == v["scheduled_at"]
        assert row["timezone"] == v["timezone"]
    formula_rows = [r for r in rows if unescape_spreadsheet(r["caption"]).startswith("=")]
    assert formula_rows and all(r["caption"].startswith("'=") for r in formula_rows)
    quoted = [r for r in rows if unescape_spreadsheet(r["caption"]).startswith("'quoted")]
    assert quoted and all(r["caption"].startswith("''quoted") for r in quoted)


async def test_bulk_csv_has_local_date_time_and_publishable_text(
        live_client: httpx.AsyncClient, seeded_ids: SeededIds) -> None:
    body = await _export(live_client, _calendar_id(seeded_ids), "csv-bulk")
    rows = csv_rows(body)
    assert len(rows) == N
    json_doc = validate_json_export(await _export(live_client, _calendar_id(seeded_ids), "json"))
    for row, item in zip(rows, json_doc["entries"], strict=True):
        v = expected(seeded_ids[item["id"]])
        local = v["scheduled_at"].astimezone(zoneinfo.ZoneInfo(v["timezone"]))
        assert row["Date"] == local.strftime("%Y-%m-%d")
        assert row["Time"] == local.strftime("%H:%M")
        assert unescape_spreadsheet(row["Text"]) == post_text(v)
        assert not row["Text"].startswith(TRIGGERS)
        assert row["Media URLs"] == ",".join(m["url"] for m in v["media"])
        assert row["Channel"] == v["channel"] and row["Timezone"] == v["timezone"]


async def test_ics_read_by_icalendar(live_client: httpx.AsyncClient,
                                     seeded_ids: SeededIds) -> None:
    import icalendar

    body = await _export(live_client, _calendar_id(seeded_ids), "ics")
    for line in body.split(b"\r\n"):
        assert len(line) <= 75, line  # folded at 75 octets
    cal = icalendar.Calendar.from_ical(body)
    assert str(cal["X-WR-CALNAME"]) == "Ramadan & Chanukah, \"special\" 🌙"
    assert str(cal["VERSION"]) == "2.0"
    tzids = {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")}
    assert tzids == {"Europe/Paris", "America/New_York", "Asia/Kolkata", "Asia/Jerusalem"}
    events = icalendar_events(body)
    assert len(events) == N
    uids = set()
    for ev in events:
        uid = str(ev["UID"])
        uids.add(uid)
        v = expected(seeded_ids[uid.removesuffix("@postplan")])
        start = ev.decoded("DTSTART")
        assert start == v["scheduled_at"]
        if v["timezone"] == "UTC":
            assert start.utcoffset() == dt.timedelta(0)
        else:
            assert ev["DTSTART"].params["TZID"] == v["timezone"]
            assert start.utcoffset() == v["scheduled_at"].astimezone(
                zoneinfo.ZoneInfo(v["timezone"])).utcoffset()
        assert ev.decoded("DURATION") == dt.timedelta(minutes=15)
        assert str(ev["SUMMARY"]) == ics_text(summary(v))
        assert str(ev["DESCRIPTION"]) == ics_text(post_text(v))
        assert int(ev["SEQUENCE"]) == 0
        assert ev.decoded("DTSTAMP") == dt.datetime(2026, 11, 20, 9, 30, 15, tzinfo=dt.UTC)
        assert [str(c) for c in ev["CATEGORIES"].cats] == [category(v["pillar"]), v["format"]]
    assert len(uids) == N


async def test_ics_read_by_the_independent_ics_package(live_client: httpx.AsyncClient,
                                                       seeded_ids: SeededIds) -> None:
    body = await _export(live_client, _calendar_id(seeded_ids), "ics")
    events = ics_events(body)
    assert len(events) == N
    for ev in events:
        v = expected(seeded_ids[ev.uid.removesuffix("@postplan")])
        assert ev.name == ics_text(summary(v))
        assert ev.description == ics_text(post_text(v))
        assert ev.begin.datetime == v["scheduled_at"]
        assert ev.duration == dt.timedelta(minutes=15)
        assert set(ev.categories) == {category(v["pillar"]), v["format"]}


async def test_vtimezone_follows_dst_inside_the_exported_range(
        live_client: httpx.AsyncClient, seeded_ids: SeededIds) -> None:
    import icalendar

    body = await _export(live_client, _calendar_id(seeded_ids), "ics")
    cal = icalendar.Calendar.from_ical(body)
    paris = next(tz for tz in cal.walk("VTIMEZONE") if str(tz["TZID"]) == "Europe/Paris")
    kinds = {c.name for c in paris.subcomponents}
    assert kinds == {"STANDARD", "DAYLIGHT"}  # the range crosses 25 Oct 2026


@pytest.mark.parametrize("transport", ["inprocess"])
async def test_a_start_in_the_repeated_dst_hour_stays_exact(live_client: httpx.AsyncClient,
                                                            db_url: str) -> None:
    import icalendar

    # 2026-10-25 01:30 UTC is 02:30 CET — the second 02:30 of that night in Paris.
    second = dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)
    first = second - dt.timedelta(hours=1)
    seeded = await seed_calendar(db_url, entries=1, start=first, timezone="Europe/Paris")
    other = await seed_calendar(db_url, entries=1, start=second, timezone="Europe/Paris")
    for cal_id, moment in ((seeded.calendar_id, first), (other.calendar_id, second)):
        body = await _export(live_client, cal_id, "ics")
        (event,) = icalendar_events(body)
        assert event.decoded("DTSTART") == moment
        (parsed,) = ics_events(body)
        assert parsed.begin.datetime == moment
        assert b"DTSTART:20261025T" in body  # written in UTC, not as an ambiguous wall time
        assert icalendar.Calendar.from_ical(body)
