"""LLM_MAX_CONCURRENCY through the app: a run that must wait for a model slot says so in its
`run` event, then streams normally once the slot comes free."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from postplan.calendars.runs.events import QUEUED_NOTE
from tests.fakes.llm_server import FakeLLMConfig, fake_llm
from tests.fakes.sse_client import live_app, of, read_stream
from tests.fixtures.apps import make_settings
from tests.fixtures.databases import sqlite_url

pytestmark = [pytest.mark.timeout(60), pytest.mark.live]

BRIEF: dict[str, Any] = {"brand": "Acme Coffee", "startDate": "2026-12-01", "days": 3,
                         "timezone": "Europe/Berlin", "channels": ["tiktok", "instagram"]}


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return sqlite_url(tmp_path)  # migrated outside the test's event loop


async def test_a_run_waiting_for_a_model_slot_says_queued(tmp_path: Path, sqlite_db: str) -> None:
    # Each entry takes 0.3 s, so the first run holds the slot for about a second: long enough
    # for the second POST to arrive while it does even on a loaded CI machine (at 0.05 s the
    # first run could finish before the second one asked, and then nothing had to wait).
    with fake_llm(FakeLLMConfig(entry_delay=0.3)) as (fake, base_url):
        settings = make_settings(sqlite_db, CALENDAR_SERVICE_ENABLED=True,
                                 LLM_BASE_URL=base_url, LLM_MAX_CONCURRENCY=1,
                                 SPOOL_DIR=str(tmp_path / "spool"))
        async with live_app(settings) as (_app, client):
            first = asyncio.create_task(
                read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF))
            for _ in range(1000):  # until the first run holds the only slot
                if fake.streaming:
                    break
                await asyncio.sleep(0.01)
            assert fake.streaming, "the first run never reached the model"
            second = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF)
            first_events = await first
    assert "queued" not in first_events[0].data
    assert second[0].data["queued"] is True and QUEUED_NOTE in second[0].data["notes"]
    assert second[-1].data["status"] == "completed"
    assert len(of(second, "entry")) == second[0].data["expectedEntries"]
    assert fake.max_streaming == 1 and fake.calls == 2
