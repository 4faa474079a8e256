"""Calendars and entries API: list, get, ordered entries, edits with If-Match, isolation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.fixtures.factories import seed_calendar

pytestmark = pytest.mark.timeout(60)


async def test_list_and_get_calendar_with_ordered_entries(client: httpx.AsyncClient,
                                                          db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=4)
    listing = await client.get("/v1/calendars")
    assert listing.status_code == 200
    body = listing.json()
    assert [c["id"] for c in body["items"]] == [str(seeded.calendar_id)]
    assert body["nextCursor"] is None

    one = await client.get(f"/v1/calendars/{seeded.calendar_id}")
    assert one.status_code == 200
    data = one.json()
    assert data["latestRunId"] == str(seeded.run_id)
    times = [e["scheduledAt"] for e in data["entries"]]
    assert times == sorted(times)
    # Berlin in December is UTC+1: the offset is the zone's, not UTC's.
    assert times[0] == "2026-12-01T18:00:00+01:00"
    assert [e["id"] for e in data["entries"]] == [str(i) for i in seeded.entry_ids]

    entries = await client.get(f"/v1/calendars/{seeded.calendar_id}/entries")
    assert [e["id"] for e in entries.json()["items"]] == [str(i) for i in seeded.entry_ids]


async def test_entries_paginate_by_cursor(client: httpx.AsyncClient, db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=5)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(f"/v1/calendars/{seeded.calendar_id}/entries",
                                 params=params)).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [str(i) for i in seeded.entry_ids]
    bad = await client.get(f"/v1/calendars/{seeded.calendar_id}/entries",
                           params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_cursor"


async def test_patch_entry_bumps_version_and_keeps_revision(client: httpx.AsyncClient,
                                                            db_url: str) -> None:
    seeded = await seed_calendar(db_url)
    eid = seeded.entry_ids[0]
    url = f"/v1/calendars/{seeded.calendar_id}/entries/{eid}"
    res = await client.patch(url, json={"hook": "New hook", "hashtags": ["#Latte", "beans"]},
                             headers={"If-Match": '"1"'})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["hook"] == "New hook"
    assert body["hashtags"] == ["Latte", "beans"]
    assert body["version"] == 2
    assert body["edited"] is True
    assert res.headers["etag"] == '"2"'

    stale = await client.patch(url, json={"hook": "Lost update"}, headers={"If-Match": "1"})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert stale.json()["code"] == "version_mismatch"
    assert stale.json()["currentVersion"] == 2

    saved = (await client.get(f"/v1/calendars/{seeded.calendar_id}")).json()["entries"][0]
    assert saved["hook"] == "New hook"

    moved = await client.patch(url, json={"scheduledAt": "2026-12-24T09:30:00-05:00"},
                               headers={"If-Match": "2"})
    assert moved.status_code == 200
    # Shown in the entry's own zone (Berlin), same instant.
    assert moved.json()["scheduledAt"] == "2026-12-24T15:30:00+01:00"


@pytest.mark.parametrize(
    "text",
    [
        'He said "hi" & left \'quietly\'',
        "☕️🔥 emoji 👩🏽‍💻 and RTL: مرحبا بالعالم שלום",
        "'; DROP TABLE calendar_entries; --",
        "Robert'); DELETE FROM calendars WHERE ('1'='1",
    ],
)
async def test_awkward_text_is_stored_verbatim(client: httpx.AsyncClient, db_url: str,
                                               text: str) -> None:
    seeded = await seed_calendar(db_url, entries=1)
    url = f"/v1/calendars/{seeded.calendar_id}/entries/{seeded.entry_ids[0]}"
    res = await client.patch(url, json={"caption": text})
    assert res.status_code == 200
    again = (await client.get(f"/v1/calendars/{seeded.calendar_id}/entries")).json()
    assert again["items"][0]["caption"] == text
    assert (await client.get("/v1/calendars")).json()["items"]  # the table is still there


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"caption": "nul\x00byte"}, "validation_failed", "caption"),
        ({"format": "reel"}, "invalid_format", None),  # tiktok entry cannot be a reel
        ({"format": "hologram"}, "validation_failed", "format"),
        ({"hashtags": ["two words"]}, "validation_failed", "hashtags"),
        ({"hashtags": "notalist"}, "validation_failed", "hashtags"),
        ({"scheduledAt": "2026-12-24T09:30:00"}, "validation_failed", "scheduledAt"),
        ({"scheduledAt": "yesterday"}, "validation_failed", "scheduledAt"),
        ({"media": [{"url": "ftp://x", "type": "image"}]}, "validation_failed", "media.0.url"),
        ({"version": 7}, "validation_failed", "version"),
        ({}, "empty_patch", None),
        ({"hook": None}, "null_field", None),
        ({"caption": "x" * 4001}, "validation_failed", "caption"),
    ],
)
async def test_bad_patch_is_refused_and_loses_nothing(
    client: httpx.AsyncClient, db_url: str, body: dict[str, Any], code: str, field: str | None
) -> None:
    seeded = await seed_calendar(db_url, entries=1)
    url = f"/v1/calendars/{seeded.calendar_id}/entries/{seeded.entry_ids[0]}"
    before = (await client.get(f"/v1/calendars/{seeded.calendar_id}/entries")).json()
    res = await client.patch(url, json=body)
    assert res.status_code == 422, res.text
    problem = res.json()
    assert res.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == code
    assert problem["requestId"]
    if field:
        assert field in [e["field"] for e in problem["errors"]]
    after = (await client.get(f"/v1/calendars/{seeded.calendar_id}/entries")).json()
    assert after == before


async def test_other_users_objects_answer_404(
    client_factory: Callable[..., Any], settings_factory: Callable[..., Any], db_url: str
) -> None:
    seeded = await seed_calendar(db_url, user_id="alice")
    async with client_factory(settings_factory()) as client:
        bob = {"X-User-Id": "bob"}
        assert (await client.get("/v1/calendars", headers=bob)).json()["items"] == []
        for path in (f"/v1/calendars/{seeded.calendar_id}",
                     f"/v1/calendars/{seeded.calendar_id}/entries"):
            res = await client.get(path, headers=bob)
            assert res.status_code == 404
            assert res.json()["code"] == "calendar_not_found"
        res = await client.patch(
            f"/v1/calendars/{seeded.calendar_id}/entries/{seeded.entry_ids[0]}",
            json={"hook": "hijack"}, headers=bob)
        assert res.status_code == 404
        alice = await client.get(f"/v1/calendars/{seeded.calendar_id}",
                                 headers={"X-User-Id": "alice"})
        assert alice.json()["entries"][0]["hook"] == "Hook number 0"


async def test_ids_that_are_not_uuids(client: httpx.AsyncClient) -> None:
    res = await client.get("/v1/calendars/not-a-uuid")
    assert res.status_code == 422
    assert res.json()["errors"][0]["field"] == "calendar_id"
    res = await client.get(f"/v1/calendars/{uuid.uuid4()}")
    assert res.status_code == 404


async def test_get_one_entry_with_its_version_as_etag(
    client_factory: Callable[..., Any], settings_factory: Callable[..., Any], db_url: str
) -> None:
    """`GET …/entries/{id}`: the entry as last saved, `ETag` its version (the If-Match of the
    next edit); another user's, an unknown or a deleted entry is 404, a bad id 422."""
    seeded = await seed_calendar(db_url, user_id="alice")
    url = f"/v1/calendars/{seeded.calendar_id}/entries/{seeded.entry_ids[1]}"
    alice = {"X-User-Id": "alice"}
    async with client_factory(settings_factory()) as client:
        got = await client.get(url, headers=alice)
        assert got.status_code == 200, got.text
        assert got.json()["id"] == str(seeded.entry_ids[1]) and got.headers["etag"] == '"1"'
        edited = await client.patch(url, json={"hook": "Edited"}, headers={
            **alice, "If-Match": got.headers["etag"]})
        assert edited.status_code == 200
        again = await client.get(url, headers=alice)
        assert again.json()["hook"] == "Edited" and again.headers["etag"] == '"2"'

        other = await client.get(url, headers={"X-User-Id": "bob"})
        assert other.status_code == 404
        unknown = await client.get(
            f"/v1/calendars/{seeded.calendar_id}/entries/{uuid.uuid4()}", headers=alice)
        assert unknown.status_code == 404 and unknown.json()["code"] == "entry_not_found"
        bad = await client.get(f"/v1/calendars/{seeded.calendar_id}/entries/nope",
                               headers=alice)
        assert bad.status_code == 422
        assert (await client.delete(url, headers=alice)).status_code == 204
        assert (await client.get(url, headers=alice)).status_code == 404
