"""POST /v1/ai/calendar in `ai` mode against a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from postplan.config import Settings
from postplan.generation.planner import count_slots
from postplan.generation.schemas import Brief
from tests.fakes.llm_server import FakeLLMConfig, closed_port_url, fake_llm
from tests.fakes.sse_client import (
    live_app,
    of,
    query,
    read_stream,
    table_counts,
)
from tests.fixtures.apps import make_settings
from tests.fixtures.databases import sqlite_url

pytestmark = [pytest.mark.timeout(90), pytest.mark.live]

BRIEF: dict[str, Any] = {"brand": "Acme Coffee", "startDate": "2026-12-01", "days": 14,
                         "timezone": "Europe/Berlin", "channels": ["tiktok", "instagram"]}
EXPECTED = count_slots(Brief.model_validate(BRIEF))
API_KEY = "sk-test-very-secret-key-123456"


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return sqlite_url(tmp_path)


@pytest.fixture
def ai_settings(sqlite_db: str, tmp_path: Path) -> Callable[..., Settings]:
    def factory(base_url: str, **overrides: Any) -> Settings:
        values: dict[str, Any] = {"CALENDAR_SERVICE_ENABLED": True, "LLM_BASE_URL": base_url,
                                  "LLM_API_KEY": API_KEY, "LLM_MODEL": "fake-model",
                                  "SPOOL_DIR": str(tmp_path / "spool")}
        values.update(overrides)
        return make_settings(sqlite_db, **values)

    return factory


async def test_entries_arrive_as_the_model_finishes_them(
    ai_settings: Callable[..., Settings], sqlite_db: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with fake_llm(FakeLLMConfig(entry_delay=0.15)) as (fake, base_url):
        async with live_app(ai_settings(base_url)) as (_app, client):
            events = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF)
        assert fake.calls == 1
        completed = list(fake.completed_at)
    assert events[0].data["mode"] == "ai"
    assert events[0].data["expectedEntries"] == EXPECTED
    entries = of(events, "entry")
    assert len(entries) == EXPECTED
    assert events[-1].data["status"] == "completed"
    # Entries reach the client while the model is still writing: the first one long before
    # the answer ends, and arrivals spread over the model's writing time (not one burst).
    assert entries[0].at < completed[-1]
    before_next = sum(entries[i].at < completed[i + 1] for i in range(len(completed) - 1))
    assert before_next >= (len(completed) - 1) // 2
    assert entries[-1].at - entries[0].at > 0.5 * (completed[-1] - completed[0])
    hooks = [e.data["entry"]["hook"] for e in entries]
    assert all(h.startswith("Fake hook number") for h in hooks)
    assert all(e.data["entry"]["hashtags"] == ["fake", f"slot{i}", "tagged"]
               for i, e in enumerate(entries))
    runs = await query(sqlite_db, "SELECT status, mode, model, entry_count FROM calendar_runs")
    assert runs == [{"status": "completed", "mode": "ai", "model": "fake-model",
                     "entry_count": EXPECTED}]
    assert fake.auth_headers == [f"Bearer {API_KEY}"]
    assert API_KEY not in capfd.readouterr().err


async def test_a_stall_times_out_partial_and_keeps_the_entries(
    ai_settings: Callable[..., Settings], sqlite_db: str
) -> None:
    with fake_llm(FakeLLMConfig(stall_after=3, stall_seconds=30)) as (_fake, base_url):
        async with live_app(ai_settings(base_url, AI_TIMEOUT_SECONDS=1)) as (_app, client):
            events = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF)
            run_id = events[0].data["runId"]
            status = (await client.get(f"/v1/ai/calendar/runs/{run_id}")).json()
    assert [e.event for e in events] == ["run", "entry", "entry", "entry", "timeout", "done"]
    timeout = of(events, "timeout")[0].data
    assert timeout["entriesSoFar"] == 3
    assert timeout["message"].startswith("the AI")
    assert events[-1].data == {"runId": run_id, "status": "partial", "entryCount": 3}
    assert status["status"] == "partial"
    assert status["error"]["code"] == "ai_timeout"
    assert (await table_counts(sqlite_db))["calendar_entries"] == 3
    publish_rows = await query(sqlite_db, "SELECT count(*) AS n FROM publish_intents")
    assert publish_rows == [{"n": 0}]


async def test_the_whole_run_is_bounded_even_without_a_stall(
    ai_settings: Callable[..., Settings], sqlite_db: str
) -> None:
    with fake_llm(FakeLLMConfig(entry_delay=0.3)) as (_fake, base_url):
        async with live_app(ai_settings(base_url, AI_TIMEOUT_SECONDS=1)) as (_app, client):
            events = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF)
    kept = len(of(events, "entry"))
    assert 1 <= kept < EXPECTED
    assert of(events, "timeout")[0].data["entriesSoFar"] == kept
    assert events[-1].data["status"] == "partial"
    assert (await table_counts(sqlite_db))["calendar_entries"] == kept


@pytest.mark.parametrize(
    ("config", "code", "saved"),
    [
        (FakeLLMConfig(status=401), "ai_auth_failed", 0),
        (FakeLLMConfig(status=429), "ai_rate_limited", 0),
        (FakeLLMConfig(status=500), "ai_unavailable", 0),
        (FakeLLMConfig(status=503), "ai_unavailable", 0),
        (FakeLLMConfig(garbage="json"), "ai_bad_response", 0),
        (FakeLLMConfig(garbage="html"), "ai_bad_response", 0),
        (FakeLLMConfig(drop_after=2), "ai_connection_lost", 2),
        (None, "ai_connection_failed", 0),
    ],
    ids=["401", "429", "500", "503", "garbage-json", "garbage-html", "dropped", "refused"],
)
async def test_provider_errors_end_in_an_error_event_and_a_failed_run(
    ai_settings: Callable[..., Settings], sqlite_db: str, config: FakeLLMConfig | None,
    code: str, saved: int
) -> None:
    async def run(base_url: str) -> list[Any]:
        # One try per call: retries on 429/5xx/refused have their own tests
        # (tests/generation/providers/test_model_client.py).
        async with live_app(ai_settings(base_url, LLM_MAX_ATTEMPTS=1)) as (_app, client):
            events = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF)
            run_id = events[0].data["runId"]
            status = (await client.get(f"/v1/ai/calendar/runs/{run_id}")).json()
            return [events, status]

    if config is None:
        events, status = await run(closed_port_url())
    else:
        with fake_llm(config) as (fake, base_url):
            events, status = await run(base_url)
        assert fake.calls == 1  # LLM_MAX_ATTEMPTS=1: no retries
    assert [e.event for e in events] == ["run"] + ["entry"] * saved + ["error", "done"]
    error = of(events, "error")[0].data
    assert error["code"] == code
    assert error["message"]
    assert API_KEY not in error["message"]
    assert events[-1].data["status"] == "failed"
    assert events[-1].data["entryCount"] == saved
    assert status["status"] == "failed"
    assert status["error"]["code"] == code
    assert (await table_counts(sqlite_db))["calendar_entries"] == saved


async def test_bad_model_output_is_repaired_from_the_planner(
    ai_settings: Callable[..., Settings], sqlite_db: str
) -> None:
    config = FakeLLMConfig(malformed={1}, skip={2, 5}, bad_fields={3}, prose=True, piece=5)
    with fake_llm(config) as (_fake, base_url):
        async with live_app(ai_settings(base_url)) as (_app, client):
            events = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF)
    entries = [e.data["entry"] for e in of(events, "entry")]
    assert events[-1].data == {"runId": events[0].data["runId"], "status": "completed",
                               "entryCount": EXPECTED}
    assert len(entries) == EXPECTED
    hooks = [e["hook"] for e in entries]
    assert len({h.casefold() for h in hooks}) == len(hooks)
    assert all(0 < len(h) <= 100 for h in hooks)
    assert all(e["caption"] and e["callToAction"] and e["assetNotes"] for e in entries)
    assert all(isinstance(e["hashtags"], list) and len(e["hashtags"]) <= 5 for e in entries)
    model_written = sum(h.startswith("Fake hook number") for h in hooks)
    assert model_written == EXPECTED - 4  # malformed, two skipped, one with a bad hook
    assert (await table_counts(sqlite_db))["calendar_entries"] == EXPECTED


async def test_duplicate_hooks_from_the_model_are_replaced(
    ai_settings: Callable[..., Settings]
) -> None:
    with fake_llm(FakeLLMConfig(duplicate_hooks=True)) as (_fake, base_url):
        async with live_app(ai_settings(base_url)) as (_app, client):
            events = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF)
    hooks = [e.data["entry"]["hook"] for e in of(events, "entry")]
    assert len(hooks) == EXPECTED
    assert hooks.count("Same hook every time") == 1
    assert len(set(hooks)) == EXPECTED
