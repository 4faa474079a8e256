"""POST /v1/calendars/import: idempotent by entry id, exact round trips, per-row errors."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest

from tests.exports.factories import seed_calendar
from tests.exports.parsing import validate_json_export

pytestmark = pytest.mark.timeout(90)

JSON = {"content-type": "application/json"}
CSV = {"content-type": "text/csv"}


async def _export(client: httpx.AsyncClient, calendar_id: object, fmt: str,
                  **headers: str) -> bytes:
    resp = await client.post(f"/v1/calendars/{calendar_id}/export", json={"format": fmt},
                             headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.content


async def test_reimporting_an_export_changes_nothing(live_client: httpx.AsyncClient,
                                                     db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=8)
    for fmt, headers in (("json", JSON), ("csv", CSV)):
        before = await _export(live_client, seeded.calendar_id, "json")
        body = await _export(live_client, seeded.calendar_id, fmt)
        for _ in range(2):
            resp = await live_client.post("/v1/calendars/import", content=body, headers=headers)
            assert resp.status_code == 200, resp.text
            report = resp.json()
            # Every field of every row compares equal: the text survived the format exactly.
            assert report == {"calendarId": str(seeded.calendar_id), "calendarCreated": False,
                              "kind": fmt, "total": 8, "created": 0, "updated": 0,
                              "unchanged": 8, "failed": 0, "errors": []}
        after = await _export(live_client, seeded.calendar_id, "json")
        assert after == before  # no version bump, no new rows


async def test_json_import_updates_adds_and_stays_idempotent(live_client: httpx.AsyncClient,
                                                             db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=4)
    doc = validate_json_export(await _export(live_client, seeded.calendar_id, "json"))
    doc["entries"][0]["caption"] = "Changed in a text editor, ✨ مرحبا =1+1"
    new_entry = dict(doc["entries"][1], id="5b0c3d52-7f40-4c55-9c43-8f5a9a3b8a01",
                     caption="A brand new one", version=1, edited=False)
    doc["entries"].append(new_entry)
    doc["entryCount"] = len(doc["entries"])
    body = json.dumps(doc, ensure_ascii=False).encode()
    first = (await live_client.post("/v1/calendars/import", content=body, headers=JSON)).json()
    assert (first["created"], first["updated"], first["unchanged"]) == (1, 1, 3)
    second = (await live_client.post("/v1/calendars/import", content=body, headers=JSON)).json()
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 5)
    after = validate_json_export(await _export(live_client, seeded.calendar_id, "json"))
    assert len(after["entries"]) == 5
    changed = next(e for e in after["entries"] if e["id"] == doc["entries"][0]["id"])
    assert changed["caption"] == "Changed in a text editor, ✨ مرحبا =1+1"
    assert changed["version"] == 2 and changed["edited"] is True
    added = next(e for e in after["entries"] if e["id"] == new_entry["id"])
    assert added["runId"] is None and added["caption"] == "A brand new one"


async def test_another_users_ids_are_never_overwritten(live_client: httpx.AsyncClient,
                                                       db_url: str) -> None:
    theirs = await seed_calendar(db_url, user_id="victim", entries=3)
    stolen = await _export(live_client, theirs.calendar_id, "json", **{"X-User-Id": "victim"})
    doc = json.loads(stolen)
    for entry in doc["entries"]:
        entry["caption"] = "overwritten!"
    body = json.dumps(doc).encode()
    resp = await live_client.post("/v1/calendars/import", content=body, headers=JSON)
    # The import neither overwrites the victim's rows nor tells the caller they exist: the
    # answer is the one an unused id gets (the rows are created, under ids of the caller's own).
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert (report["calendarCreated"], report["created"], report["errors"]) == (True, 3, [])
    assert report["calendarId"] != str(theirs.calendar_id)
    # The victim's data is untouched.
    assert await _export(live_client, theirs.calendar_id, "json",
                         **{"X-User-Id": "victim"}) == stolen
    mine = json.loads(await _export(live_client, report["calendarId"], "json"))
    assert {e["id"] for e in mine["entries"]}.isdisjoint(e["id"] for e in doc["entries"])
    assert [e["caption"] for e in mine["entries"]] == ["overwritten!"] * 3
    # Importing the same file again finds the caller's own rows, as it would for unused ids.
    again = (await live_client.post("/v1/calendars/import", content=body, headers=JSON)).json()
    assert (again["calendarId"], again["calendarCreated"], again["unchanged"]) == (
        report["calendarId"], False, 3)
    # Naming the victim's calendar explicitly is a 404, as everywhere.
    direct = await live_client.post("/v1/calendars/import", content=body, headers=JSON,
                                    params={"calendarId": str(theirs.calendar_id)})
    assert direct.status_code == 404


async def test_json_import_creates_the_calendar_when_missing(live_client: httpx.AsyncClient,
                                                             db_url: str) -> None:
    seeded = await seed_calendar(db_url, user_id="alice", entries=3)
    doc = json.loads(await _export(live_client, seeded.calendar_id, "json",
                                   **{"X-User-Id": "alice"}))
    # Bob imports Alice's file with fresh entry ids: a new calendar (not Alice's id) is made.
    for n, entry in enumerate(doc["entries"]):
        entry["id"] = f"00000000-0000-4000-8000-00000000000{n}"
    resp = await live_client.post("/v1/calendars/import", content=json.dumps(doc).encode(),
                                  headers={**JSON, "X-User-Id": "bob"})
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["calendarCreated"] is True and report["created"] == 3
    assert report["calendarId"] != str(seeded.calendar_id)
    bobs = validate_json_export(await _export(live_client, report["calendarId"], "json",
                                              **{"X-User-Id": "bob"}))
    assert bobs["calendar"]["name"] == doc["calendar"]["name"]
    assert [e["caption"] for e in bobs["entries"]] == [e["caption"] for e in doc["entries"]]


def _csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode()


async def test_csv_import_reports_per_row_errors(live_client: httpx.AsyncClient,
                                                 db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=1, timezone="Europe/Paris")
    header = ["channel", "format", "scheduledAt", "hook", "caption", "hashtags", "media"]
    body = _csv([
        header,
        ["tiktok", "video", "2026-12-05T18:00:00+01:00", "ok", "'=fine, \"quoted\"", "a b", ""],
        ["myspace", "video", "2026-12-05T18:00:00+01:00", "", "", "", ""],
        ["tiktok", "reel", "2026-12-05T18:00:00+01:00", "", "", "", ""],
        ["instagram", "reel", "next tuesday", "", "", "", ""],
        ["instagram", "reel", "2026-12-06 09:30", "naive local time", "", "#x #y", ""],
        ["instagram", "image", "2026-12-06T09:30:00Z", "", "", "ok bad#tag", ""],
        ["instagram", "image", "2026-12-06T09:30:00Z", "", "", "", "not json"],
        [],
        ["tiktok", "photo", "2026-12-07T10:00:00+01:00", "",
         "Multi\nline, with \"quotes\" 🧪 שלום", "", '[{"url":"https://x.test/a.jpg","type":"image"}]'],
    ])
    params = {"calendarId": str(seeded.calendar_id)}
    resp = await live_client.post("/v1/calendars/import", content=body, headers=CSV,
                                  params=params)
    assert resp.status_code == 207, resp.text
    report = resp.json()
    assert report["kind"] == "csv"
    assert (report["created"], report["failed"], report["total"]) == (3, 5, 8)
    by_row = sorted((e["row"], e["field"]) for e in report["errors"])
    assert by_row == [(3, "channel"), (4, "format"), (5, "scheduledAt"), (7, "hashtags"),
                      (8, "media")]
    for err in report["errors"]:
        assert set(err) == {"row", "field", "message"} and err["message"]

    again = await live_client.post("/v1/calendars/import", content=body, headers=CSV,
                                   params=params)
    assert again.status_code == 207
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 3)

    doc = validate_json_export(await _export(live_client, seeded.calendar_id, "json"))
    by_hook = {e["hook"]: e for e in doc["entries"]}
    assert by_hook["ok"]["caption"] == "=fine, \"quoted\""  # the guard quote was removed
    assert by_hook["naive local time"]["scheduledAt"] == "2026-12-06T09:30:00+01:00"
    assert by_hook["naive local time"]["hashtags"] == ["x", "y"]
    multi = next(e for e in doc["entries"] if e["caption"].startswith("Multi"))
    assert multi["caption"] == "Multi\nline, with \"quotes\" 🧪 שלום"
    assert multi["media"] == [{"url": "https://x.test/a.jpg", "type": "image"}]


async def test_file_level_problems_are_422(live_client: httpx.AsyncClient, db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=2)
    doc: dict[str, Any] = json.loads(await _export(live_client, seeded.calendar_id, "json"))
    cases: list[tuple[bytes, dict[str, str], dict[str, str], str]] = [
        (json.dumps({**doc, "version": 2}).encode(), JSON, {}, "unsupported_version"),
        (json.dumps({**doc, "format": "other"}).encode(), JSON, {}, "unsupported_format"),
        (json.dumps({**doc, "entryCount": 5}).encode(), JSON, {}, "truncated_file"),
        (b"{not json", JSON, {}, "malformed_json"),
        (b"\xff\xfe", JSON, {}, "invalid_encoding"),
        (_csv([["hook", "caption"], ["a", "b"]]), CSV, {"calendarId": str(seeded.calendar_id)},
         "csv_missing_columns"),
        (_csv([["channel", "format", "scheduledAt"], ["tiktok", "video", "2026-12-01T10:00Z"]]),
         CSV, {}, "calendar_required"),
        (_csv([["channel", "format", "scheduledAt"], ["bad", "video", "x"]]), CSV,
         {"calendarId": str(seeded.calendar_id)}, "import_rejected"),
    ]
    for body, headers, params, code in cases:
        resp = await live_client.post("/v1/calendars/import", content=body, headers=headers,
                                      params=params)
        assert resp.status_code == 422, (code, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["code"] == code
    other = await live_client.post("/v1/calendars/import", content=b"x",
                                   headers={"content-type": "application/pdf"})
    assert other.status_code == 415


async def test_bulk_csv_import_is_idempotent(live_client: httpx.AsyncClient,
                                             db_url: str) -> None:
    source = await seed_calendar(db_url, entries=4)
    target = await seed_calendar(db_url, entries=0, name="Empty")
    bulk = await _export(live_client, source.calendar_id, "csv-bulk")
    params = {"calendarId": str(target.calendar_id)}
    first = (await live_client.post("/v1/calendars/import", content=bulk, headers=CSV,
                                    params=params)).json()
    assert (first["kind"], first["created"], first["errors"]) == ("csv-bulk", 4, [])
    second = (await live_client.post("/v1/calendars/import", content=bulk, headers=CSV,
                                     params=params)).json()
    assert (second["created"], second["unchanged"]) == (0, 4)
    src = validate_json_export(await _export(live_client, source.calendar_id, "json"))
    dst = validate_json_export(await _export(live_client, target.calendar_id, "json"))
    assert [e["scheduledAt"] for e in dst["entries"]] == [e["scheduledAt"] for e in src["entries"]]
    assert [e["channel"] for e in dst["entries"]] == [e["channel"] for e in src["entries"]]


async def test_csv_in_a_legacy_charset_is_read_when_named(live_client: httpx.AsyncClient,
                                                          db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=0)
    text = "channel,format,scheduledAt,caption\r\ntiktok,video,2026-12-01T10:00:00Z,Café €5\r\n"
    params = {"calendarId": str(seeded.calendar_id)}
    refused = await live_client.post("/v1/calendars/import", content=text.encode("cp1252"),
                                     headers=CSV, params=params)
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_encoding"
    read = await live_client.post("/v1/calendars/import", content=text.encode("cp1252"),
                                  headers={"content-type": "text/csv; charset=windows-1252"},
                                  params=params)
    assert read.status_code == 200, read.text
    doc = validate_json_export(await _export(live_client, seeded.calendar_id, "json"))
    assert doc["entries"][0]["caption"] == "Café €5"
