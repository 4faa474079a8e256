"""POST /v1/ai/calendar with the offline planner, through real uvicorn, on SQLite and Postgres."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from postplan.config import Settings
from postplan.generation.planner import count_slots
from postplan.generation.schemas import Brief
from tests.fakes.sse_client import live_app, of, query, read_stream, table_counts

pytestmark = [pytest.mark.timeout(90), pytest.mark.live]

BRIEF: dict[str, Any] = {"brand": "Acme Coffee", "niche": "specialty coffee",
                         "startDate": "2026-12-01", "days": 30, "timezone": "Europe/Berlin",
                         "channels": ["tiktok", "instagram"], "country": "DE"}


async def test_planner_stream_saves_every_entry_before_done(
    settings_factory: Callable[..., Settings], db_url: str
) -> None:
    settings = settings_factory(CALENDAR_SERVICE_ENABLED=True)
    async with live_app(settings) as (_app, client):
        events = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF)
        run = events[0]
        assert run.event == "run"
        expected = count_slots(Brief.model_validate(BRIEF))
        assert run.data["mode"] == "planner"
        assert run.data["dryRun"] is False
        assert run.data["expectedEntries"] == expected
        run_id = run.data["runId"]
        entries = of(events, "entry")
        assert [e.data["seq"] for e in entries] == list(range(1, expected + 1))
        assert [e.id for e in entries] == [f"{run_id}:{n}" for n in range(1, expected + 1)]
        assert events[-1].event == "done"
        assert events[-1].data == {"runId": run_id, "status": "completed",
                                   "entryCount": expected}
        first = entries[0].data["entry"]
        assert first["runId"] == run_id
        assert first["calendarId"] == run.data["calendarId"]
        assert first["version"] == 1 and first["edited"] is False and first["media"] == []
        assert first["scheduledAt"].endswith(("+01:00", "+02:00"))
        assert not any(h.startswith("#") for e in entries for h in e.data["entry"]["hashtags"])

        status = (await client.get(f"/v1/ai/calendar/runs/{run_id}")).json()
        assert status["status"] == "completed"
        assert status["entryCount"] == expected
        assert status["mode"] == "planner"
        assert status["finishedAt"] is not None

        saved = (await client.get(f"/v1/calendars/{run.data['calendarId']}")).json()
        assert saved["latestRunId"] == run_id
        assert saved["name"].startswith("Acme Coffee")
        assert {e["id"] for e in saved["entries"]} == {e.data["entry"]["id"] for e in entries}

    counts = await table_counts(db_url)
    assert counts["calendar_entries"] == expected
    revisions = await query(db_url, "SELECT source, version FROM entry_revisions")
    assert len(revisions) == expected
    assert {(r["source"], r["version"]) for r in revisions} == {("generated", 1)}


async def test_calendar_id_adds_a_run_and_is_private(
    settings_factory: Callable[..., Settings], db_url: str
) -> None:
    settings = settings_factory(CALENDAR_SERVICE_ENABLED=True)
    brief = {**BRIEF, "days": 7}
    async with live_app(settings) as (_app, client):
        first = await read_stream(client, "POST", "/v1/ai/calendar", json_body=brief)
        calendar_id = first[0].data["calendarId"]
        second = await read_stream(client, "POST", "/v1/ai/calendar",
                                   json_body={**brief, "calendarId": calendar_id})
        assert second[0].data["calendarId"] == calendar_id
        assert second[0].data["runId"] != first[0].data["runId"]
        assert second[-1].data["status"] == "completed"
        saved = (await client.get(f"/v1/calendars/{calendar_id}")).json()
        assert saved["latestRunId"] == second[0].data["runId"]

        stranger = {"X-User-Id": "mallory"}
        theirs = await client.post("/v1/ai/calendar", headers=stranger,
                                   json={**brief, "calendarId": calendar_id})
        assert theirs.status_code == 404
        assert theirs.headers["content-type"].startswith("application/problem+json")
        run_id = first[0].data["runId"]
        assert (await client.get(f"/v1/ai/calendar/runs/{run_id}",
                                 headers=stranger)).status_code == 404
        assert (await client.get(f"/v1/ai/calendar/runs/{run_id}/events",
                                 headers=stranger)).status_code == 404
    counts = await table_counts(db_url)
    assert counts["calendars"] == 1
    assert counts["calendar_runs"] == 2


async def test_stream_headers_and_metrics(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(CALENDAR_SERVICE_ENABLED=True)
    async with live_app(settings) as (_app, client):
        async with client.stream("POST", "/v1/ai/calendar",
                                 json={**BRIEF, "days": 3}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["x-accel-buffering"] == "no"
            assert response.headers["cache-control"] == "no-cache"
            body = (await response.aread()).decode()
        assert "retry: 3000" in body
        metrics = (await client.get("/metrics")).text
        assert 'postplan_sse_streams_total{outcome="completed"}' in metrics
        assert 'postplan_generation_entries_total{mode="planner"}' in metrics
