"""Imports from a careless or hostile file: each problem a 4xx (per row or for the file), never
a 500; nothing a later read trips over is stored; and an import tells nothing about other users'
rows. On SQLite and Postgres."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from postplan.config import Settings
from tests.exports.factories import seed_calendar
from tests.fixtures.apps import build_app, in_process_client

pytestmark = pytest.mark.timeout(90)

JSON = {"content-type": "application/json"}
CSV = {"content-type": "text/csv"}
ENTRY: dict[str, Any] = {"channel": "tiktok", "format": "video",
                         "scheduledAt": "2026-12-05T18:00:00+01:00", "timezone": "Europe/Berlin",
                         "caption": "hello"}


def document(entries: list[dict[str, Any]], **calendar: Any) -> dict[str, Any]:
    return {"format": "postplan.calendar", "version": 1,
            "calendar": {"name": "Imported", "timezone": "Europe/Berlin", **calendar},
            "entries": entries, "entryCount": len(entries)}


def as_csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode()


@pytest.fixture
async def app_client(settings_factory: Callable[..., Settings]
                     ) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The app in-process (its engine is needed to count statements) and a client for it;
    no media job, whose polls would run statements on the same engine mid-count."""
    app = build_app(settings_factory(PUBLISH_SERVICE_ENABLED=True,
                                     MEDIA_PROCESSING_ENABLED=False))
    async with in_process_client(app) as client:
        yield app, client


async def _import(client: httpx.AsyncClient, body: Any, *, user: str = "bob",
                  params: dict[str, str] | None = None, raw_json: bool = False
                  ) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    kind = CSV if isinstance(body, bytes) and not raw_json else JSON
    headers = {**kind, "X-User-Id": user}
    return await client.post("/v1/calendars/import", content=content, headers=headers,
                             params=params)


async def test_another_users_entry_ids_answer_exactly_like_unused_ids(
        app_client: tuple[Any, httpx.AsyncClient], db_url: str) -> None:
    """Same status, same body (but the new calendar's id), same statements run: whether an
    entry id belongs to someone else cannot be told from the answer or its cost."""
    app, client = app_client
    victim = await seed_calendar(db_url, user_id="victim", entries=3)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split()[0].upper())

    before = (await client.get(f"/v1/calendars/{victim.calendar_id}/entries",
                               headers={"X-User-Id": "victim"})).json()
    event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
    answers = []
    for ids in ([str(i) for i in victim.entry_ids], [str(uuid.uuid4()) for _ in range(3)]):
        statements.clear()
        entries = [{**ENTRY, "id": i, "scheduledAt": f"2026-12-0{n + 1}T10:00:00+00:00"}
                   for n, i in enumerate(ids)]
        res = await _import(client, document(entries))
        answers.append((res.status_code, {k: v for k, v in res.json().items()
                                          if k != "calendarId"}, list(statements)))
    event.remove(app.state.engine.sync_engine, "before_cursor_execute", count)
    assert answers[0] == answers[1]
    assert answers[0][0] == 200 and answers[0][1]["created"] == 3
    after = await client.get(f"/v1/calendars/{victim.calendar_id}/entries",
                             headers={"X-User-Id": "victim"})
    assert after.json() == before


async def test_nul_anywhere_in_a_file_is_refused(app_client: tuple[Any, httpx.AsyncClient],
                                                 db_url: str) -> None:
    """PostgreSQL cannot store U+0000 (text or jsonb); it used to answer 500 there."""
    _app, client = app_client
    for doc in (document([ENTRY], brief={"brand": "a\x00"}),
                document([ENTRY], brief={"k\x00": 1}),
                document([ENTRY], brief={"nested": [{"deep": "\x00"}]}),
                document([ENTRY], name="cal\x00")):
        res = await _import(client, doc)
        assert res.status_code == 422, res.text
        assert res.json()["code"] == "invalid_import_file"
    for field in ("caption", "hook", "pillar", "callToAction", "assetNotes"):
        res = await _import(client, document([{**ENTRY, field: "x\x00y"}]))
        assert res.status_code == 422 and res.json()["code"] == "import_rejected", res.text
    rows = [["channel", "format", "scheduledAt", "caption"],
            ["tiktok", "video", "2026-12-05T18:00:00+01:00", "nul\x00here"],
            ["tiktok", "video", "2026-12-06T18:00:00+01:00", "fine"]]
    seeded = await seed_calendar(db_url, user_id="bob", entries=0)
    res = await _import(client, as_csv(rows), params={"calendarId": str(seeded.calendar_id)})
    assert res.status_code == 207, res.text
    assert [(e["row"], e["field"]) for e in res.json()["errors"]] == [(2, "caption")]


async def test_dates_at_the_ends_of_the_calendar_are_refused(
        app_client: tuple[Any, httpx.AsyncClient], db_url: str) -> None:
    """Year 1 or 9999 used to be stored; every later read of the calendar then answered 500."""
    _app, client = app_client
    for moment in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                   "1999-12-31T23:59:59Z", "2101-01-01T00:00:00Z"):
        res = await _import(client, document([{**ENTRY, "scheduledAt": moment}]))
        assert res.status_code == 422 and res.json()["code"] == "import_rejected", res.text
        assert "between 2000-01-01 and 2100-12-31" in res.json()["errors"][0]["message"]
        res = await _import(client, document([{**ENTRY, "updatedAt": moment}]))
        assert res.status_code == 422, res.text
    for field in ("createdAt", "updatedAt"):
        res = await _import(client, document([ENTRY], **{field: "9999-12-31T23:00:00Z"}))
        assert res.status_code == 422 and res.json()["code"] == "invalid_import_file"
    seeded = await seed_calendar(db_url, user_id="bob", entries=1)
    bulk = as_csv([["Date", "Time", "Text", "Channel", "Timezone"],
                   ["9999-12-31", "23:00", "late", "tiktok", "Pacific/Kiritimati"],
                   ["0001-01-01", "00:00", "early", "instagram", "Pacific/Kiritimati"]])
    res = await _import(client, bulk, params={"calendarId": str(seeded.calendar_id)})
    assert res.status_code == 422 and res.json()["code"] == "import_rejected", res.text
    assert (await client.get(f"/v1/calendars/{seeded.calendar_id}",
                             headers={"X-User-Id": "bob"})).status_code == 200
    # Every refusal rolled back: the seeded calendar is bob's only one, with its one entry.
    listing = (await client.get("/v1/calendars", headers={"X-User-Id": "bob"})).json()
    assert [c["id"] for c in listing["items"]] == [str(seeded.calendar_id)]
    entries = await client.get(f"/v1/calendars/{seeded.calendar_id}/entries",
                               headers={"X-User-Id": "bob"})
    assert len(entries.json()["items"]) == 1


async def test_zone_names_must_be_tzdata_names(app_client: tuple[Any, httpx.AsyncClient],
                                               db_url: str) -> None:
    _app, client = app_client
    for zone in ("localtime", "right/UTC", "posix/Asia/Tokyo", "Factory", "A" * 300, "UTC\x00"):
        res = await _import(client, document([{**ENTRY, "timezone": zone}]))
        assert res.status_code == 422 and res.json()["code"] == "import_rejected", res.text
        res = await _import(client, document([ENTRY], timezone=zone))
        assert res.status_code == 422 and res.json()["code"] == "invalid_import_file"
    seeded = await seed_calendar(db_url, user_id="bob", entries=0)
    naive = as_csv([["channel", "format", "scheduledAt", "timezone"],
                    ["tiktok", "video", "2026-12-06 09:30", "right/Europe/Berlin"],
                    ["tiktok", "video", "2026-12-06 09:30", "B" * 5000]])
    res = await _import(client, naive, params={"calendarId": str(seeded.calendar_id)})
    assert res.status_code == 422 and res.json()["code"] == "import_rejected", res.text


async def test_oversized_or_malformed_envelopes_are_4xx(
        app_client: tuple[Any, httpx.AsyncClient], db_url: str) -> None:
    _app, client = app_client
    deep = b'{"format":"postplan.calendar","version":1,"entries":' + b"[" * 100_000 \
        + b"]" * 100_000 + b"}"
    res = await _import(client, deep, raw_json=True)
    assert res.status_code == 422 and res.json()["code"] == "malformed_json", res.text
    nested: Any = "leaf"
    for _ in range(40):
        nested = {"n": nested}
    res = await _import(client, document([ENTRY], brief=nested))
    assert res.status_code == 422 and res.json()["code"] == "invalid_import_file"
    many = document([{"channel": "tiktok"}] * 10_001)
    res = await _import(client, many)
    assert res.status_code == 413 and res.json()["code"] == "import_too_large", res.text
    for bad in ({"version": True}, {"version": "1"}, {"entryCount": True},
                {"entryCount": "1"}, {"entryCount": None}, {"calendar": None}):
        res = await _import(client, {**document([ENTRY]), **bad})
        assert res.status_code == 422, (bad, res.text)
    res = await _import(client, {**document([{**ENTRY, "version": 10**30}])})
    assert res.status_code == 422 and res.json()["code"] == "import_rejected", res.text
    ok = await _import(client, {**document([ENTRY]), "version": 1.0, "entryCount": 1.0})
    assert ok.status_code == 200, ok.text
    seeded = await seed_calendar(db_url, user_id="bob", entries=0)
    odd_version = as_csv([["channel", "format", "scheduledAt", "version"],
                          ["tiktok", "video", "2026-12-05T18:00:00+01:00", "\u00b2"],
                          ["tiktok", "video", "2026-12-06T18:00:00+01:00", "3"]])
    res = await _import(client, odd_version, params={"calendarId": str(seeded.calendar_id)})
    assert res.status_code == 207, res.text
    assert [(e["row"], e["field"]) for e in res.json()["errors"]] == [(2, "version")]


async def test_charsets_that_are_not_text_and_non_json_numbers_are_422(
        app_client: tuple[Any, httpx.AsyncClient], db_url: str) -> None:
    """`rot13`, `hex`, `zlib_codec`, `punycode` are Python codecs but not text encodings;
    NaN/Infinity and 5,000-digit integers are not JSON numbers a database column can hold."""
    _app, client = app_client
    seeded = await seed_calendar(db_url, user_id="bob", entries=0)
    params = {"calendarId": str(seeded.calendar_id)}
    body = as_csv([["channel", "format", "scheduledAt"], ["tiktok", "video", "2026-12-05T18:00Z"]])
    for charset in ("rot13", "hex", "zlib_codec", "punycode", "base64", "x" * 500):
        res = await client.post("/v1/calendars/import", content=body, params=params,
                                headers={"content-type": f"text/csv; charset={charset}",
                                         "X-User-Id": "bob"})
        assert res.status_code == 422, (charset, res.text)
        assert res.json()["code"] == "invalid_encoding"
    text = json.dumps(document([ENTRY]))
    for raw in (text.replace('"version": 1', '"version": ' + "9" * 5000),
                text.replace('"entryCount": 1', '"entryCount": Infinity'),
                text.replace('"name": "Imported"', '"name": "Imported", "brief": {"a": NaN}')):
        res = await _import(client, raw.encode(), raw_json=True)
        assert res.status_code == 422 and res.json()["code"] == "malformed_json", res.text
