"""POST /v1/calendars/{id}/regenerate: a run that rewrites only unedited entries, in place, on
both databases, through real uvicorn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from postplan.calendars.runs.events import SKIPPED_NOTE
from postplan.config import Settings
from tests.fakes.sse_client import live_app, of, query, read_stream

pytestmark = [pytest.mark.timeout(90), pytest.mark.live]

BRIEF: dict[str, Any] = {"brand": "Acme Coffee", "niche": "specialty coffee",
                         "startDate": "2026-12-01", "days": 7, "timezone": "Europe/Berlin",
                         "channels": ["tiktok", "instagram"]}


async def test_regenerate_rewrites_unedited_entries_in_place_and_never_edited_ones(
    settings_factory: Callable[..., Settings], db_url: str
) -> None:
    async with live_app(settings_factory(CALENDAR_SERVICE_ENABLED=True)) as (_app, client):
        made = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF)
        cid = made[0].data["calendarId"]
        before = {e.data["entry"]["id"]: e.data["entry"] for e in of(made, "entry")}
        edited_id, other_id = list(before)[:2]
        patched = await client.patch(f"/v1/calendars/{cid}/entries/{edited_id}",
                                     json={"hook": "My own hook"}, headers={"If-Match": "1"})
        assert patched.status_code == 200, patched.text

        events = await read_stream(client, "POST", f"/v1/calendars/{cid}/regenerate",
                                   json_body={"unedited": True,
                                              "brief": {"goals": "more visits to the shop"}})
        run = events[0].data
        assert run["calendarId"] == cid and run["mode"] == "planner"
        assert set(run["regenerates"]) == set(before) - {edited_id}
        assert run["expectedEntries"] == len(before) - 1
        assert events[-1].data == {"runId": run["runId"], "status": "completed",
                                   "entryCount": len(before) - 1}
        new = {e.data["entry"]["id"]: e.data["entry"] for e in of(events, "entry")}
        assert set(new) == set(before) - {edited_id}  # same ids, the edited one untouched
        for eid, entry in new.items():
            old = before[eid]
            assert entry["version"] == 2
            assert (entry["channel"], entry["format"], entry["scheduledAt"], entry["pillar"]) \
                == (old["channel"], old["format"], old["scheduledAt"], old["pillar"])
        assert sum(new[i]["hook"] != before[i]["hook"] for i in new) >= len(new) - 1
        listed = (await client.get(f"/v1/calendars/{cid}/entries")).json()["items"]
        assert len(listed) == len(before)  # replaced, not added
        assert next(e for e in listed if e["id"] == edited_id)["hook"] == "My own hook"

        # Named: the edited one is skipped (and said so), the other regenerated again.
        named = await read_stream(client, "POST", f"/v1/calendars/{cid}/regenerate",
                                  json_body={"entryIds": [edited_id, other_id]})
        assert named[0].data["skipped"] == [edited_id]
        assert SKIPPED_NOTE in named[0].data["notes"]
        assert [e.data["entry"]["id"] for e in of(named, "entry")] == [other_id]
        assert of(named, "entry")[0].data["entry"]["version"] == 3

        only_edited = await client.post(f"/v1/calendars/{cid}/regenerate",
                                        json={"entryIds": [edited_id]})
        unknown = await client.post(f"/v1/calendars/{cid}/regenerate",
                                    json={"entryIds": ["00000000-0000-0000-0000-000000000001"]})
        both = await client.post(f"/v1/calendars/{cid}/regenerate",
                                 json={"entryIds": [other_id], "unedited": True})
        bad_brief = await client.post(f"/v1/calendars/{cid}/regenerate",
                                      json={"unedited": True, "brief": {"days": 0}})
        japanese = await client.post(f"/v1/calendars/{cid}/regenerate",
                                     json={"unedited": True, "brief": {"language": "ja"}})
        missing = await client.post("/v1/calendars/00000000-0000-0000-0000-000000000002/"
                                    "regenerate", json={"unedited": True})
    assert (only_edited.status_code, only_edited.json()["code"]) == (409,
                                                                     "nothing_to_regenerate")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "entry_not_found")
    assert both.status_code == 422 and bad_brief.status_code == 422
    assert (japanese.status_code, japanese.json()["code"]) == (422, "language_unsupported")
    assert (missing.status_code, missing.json()["code"]) == (404, "calendar_not_found")
    rows = await query(db_url, "SELECT entry_id, source, version FROM entry_revisions "
                               "ORDER BY version")
    revisions = [r for r in rows  # SQLite stores the UUID as 32 hex digits
                 if str(r["entry_id"]).replace("-", "") == other_id.replace("-", "")]
    assert [(r["source"], r["version"]) for r in revisions] == [
        ("generated", 1), ("regenerated", 2), ("regenerated", 3)]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_regenerate_in_ai_mode_asks_the_model_for_those_slots_only(
    settings_factory: Callable[..., Settings],
) -> None:
    from tests.fakes.llm_server import fake_llm

    async with live_app(settings_factory(CALENDAR_SERVICE_ENABLED=True)) as (_app, client):
        made = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF)
        cid = made[0].data["calendarId"]
        ids = [e.data["entry"]["id"] for e in of(made, "entry")][:3]
    with fake_llm() as (fake, base_url):
        settings = settings_factory(CALENDAR_SERVICE_ENABLED=True, LLM_BASE_URL=base_url)
        async with live_app(settings) as (_app, client):
            events = await read_stream(client, "POST", f"/v1/calendars/{cid}/regenerate",
                                       json_body={"entryIds": ids})
        prompt = fake.requests[0]["messages"][1]["content"]
    assert events[0].data["mode"] == "ai" and events[0].data["regenerates"] == ids
    assert "Slots (3)" in prompt and fake.calls == 1
    entries = [e.data["entry"] for e in of(events, "entry")]
    assert sorted(e["id"] for e in entries) == sorted(ids)
    assert all(e["hook"].startswith("Fake hook number") and e["version"] == 2 for e in entries)
    assert events[-1].data["status"] == "completed"
