"""Pings on idle streams, settling on shutdown, and the in-process transport."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.llm_server import FakeLLMConfig, fake_llm
from tests.fakes.sse_client import live_app, query, read_stream
from tests.fixtures.apps import build_app, free_port, in_process_client, make_settings
from tests.fixtures.databases import sqlite_url

pytestmark = [pytest.mark.timeout(60), pytest.mark.live]

BRIEF: dict[str, Any] = {"brand": "Acme", "startDate": "2026-12-01", "days": 7,
                         "channels": ["tiktok"]}


@pytest.fixture
def db(tmp_path: Path) -> str:
    return sqlite_url(tmp_path)


async def test_idle_streams_get_comment_pings(tmp_path: Path, db: str) -> None:
    with fake_llm(FakeLLMConfig(entry_delay=0.4)) as (_fake, base_url):
        settings = make_settings(db, CALENDAR_SERVICE_ENABLED=True,
                                 LLM_BASE_URL=base_url, SSE_PING_SECONDS=0.1,
                                 SPOOL_DIR=str(tmp_path / "spool"))
        async with live_app(settings) as (_app, client), client.stream(
            "POST", "/v1/ai/calendar", json=BRIEF
        ) as response:
            body = (await response.aread()).decode()
    assert ": ping" in body
    assert body.rstrip().splitlines()[-1].startswith("data:")


async def test_a_run_cut_short_by_shutdown_is_settled_cancelled(tmp_path: Path,
                                                                db: str) -> None:
    with fake_llm(FakeLLMConfig(stall_after=1, stall_seconds=30)) as (_fake, base_url):
        settings = make_settings(db, CALENDAR_SERVICE_ENABLED=True, LLM_BASE_URL=base_url,
                                 AI_TIMEOUT_SECONDS=60, SPOOL_DIR=str(tmp_path / "spool"))
        async with live_app(settings) as (_app, client):
            head = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF,
                                     stop_after_entries=1)
        # The server has stopped: the run did not stay `running`.
    rows = await query(db, "SELECT status, entry_count, error FROM calendar_runs")
    assert len(rows) == 1
    assert rows[0]["status"] == "cancelled"
    assert rows[0]["entry_count"] == 1
    assert "run_cancelled" in str(rows[0]["error"])
    assert head[0].data["mode"] == "ai"


async def test_finite_streams_work_in_process_and_openapi_lists_the_routes(
    tmp_path: Path, db: str
) -> None:
    settings = make_settings(db, CALENDAR_SERVICE_ENABLED=True,
                             SPOOL_DIR=str(tmp_path / "spool"))
    async with in_process_client(build_app(settings)) as client:
        response = await client.post("/v1/ai/calendar", json=BRIEF)
        assert response.status_code == 200
        events = [line[7:] for line in response.text.splitlines() if line.startswith("event: ")]
        assert events[0] == "run" and events[-1] == "done" and "entry" in events
        spec = (await client.get("/openapi.json")).json()
    assert "/v1/ai/calendar" in spec["paths"]
    assert "/v1/ai/calendar/runs/{run_id}/events" in spec["paths"]


async def test_generation_streams_as_a_dry_run_when_the_database_is_down(
    tmp_path: Path,
) -> None:
    unreachable = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/postplan"
    settings = make_settings(unreachable, CALENDAR_SERVICE_ENABLED=True,
                             SPOOL_DIR=str(tmp_path / "spool"))
    async with live_app(settings) as (_app, client):
        events = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF)
    assert events[0].data["dryRun"] is True
    assert events[0].data["mode"] == "planner"
    assert len([e for e in events if e.event == "entry"]) == events[0].data["expectedEntries"]
    assert events[-1].data["status"] == "completed"
