"""A client that disconnects loses nothing; resuming with Last-Event-ID replays only the rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from postplan.config import Settings
from postplan.generation.planner import count_slots
from postplan.generation.schemas import Brief
from tests.fakes.llm_server import FakeLLMConfig, fake_llm
from tests.fakes.sse_client import live_app, of, read_stream, table_counts, wait_run_settled

pytestmark = [pytest.mark.timeout(90), pytest.mark.live]

BRIEF: dict[str, Any] = {"brand": "Acme Coffee", "startDate": "2026-12-01", "days": 14,
                         "timezone": "Europe/Berlin", "channels": ["tiktok", "instagram"]}
EXPECTED = count_slots(Brief.model_validate(BRIEF))


async def test_disconnect_then_resume_while_running_and_after_done(
    settings_factory: Callable[..., Settings], db_url: str
) -> None:
    with fake_llm(FakeLLMConfig(entry_delay=0.1)) as (fake, base_url):
        settings = settings_factory(CALENDAR_SERVICE_ENABLED=True, LLM_BASE_URL=base_url)
        async with live_app(settings) as (_app, client):
            head = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF,
                                     stop_after_entries=2)
            run_id = head[0].data["runId"]
            last_id = of(head, "entry")[-1].id
            assert last_id == f"{run_id}:2"

            # Resume at once: the run is still going, so this replays and then tails it.
            rest = await read_stream(client, "GET", f"/v1/ai/calendar/runs/{run_id}/events",
                                     headers={"Last-Event-ID": last_id})
            seqs = [e.data["seq"] for e in of(rest, "entry")]
            assert seqs == list(range(3, EXPECTED + 1))
            assert [e.id for e in of(rest, "entry")] == [f"{run_id}:{n}" for n in seqs]
            assert rest[-1].event == "done"
            assert rest[-1].data == {"runId": run_id, "status": "completed",
                                     "entryCount": EXPECTED}
            assert of(rest, "run") == []

            status = await wait_run_settled(client, run_id)
            assert status["status"] == "completed"
            assert status["entryCount"] == EXPECTED

            # After done: the query parameter works too, and replays come from the database.
            tail = await read_stream(client, "GET", f"/v1/ai/calendar/runs/{run_id}/events",
                                     headers={}, json_body=None)
            assert [e.event for e in tail] == ["run"] + ["entry"] * EXPECTED + ["done"]
            later = await read_stream(
                client, "GET",
                f"/v1/ai/calendar/runs/{run_id}/events?lastEventId={run_id}:{EXPECTED - 1}")
            assert [e.event for e in later] == ["entry", "done"]
            assert of(later, "entry")[0].data["seq"] == EXPECTED
            finished = await read_stream(client, "GET", f"/v1/ai/calendar/runs/{run_id}/events",
                                         headers={"Last-Event-ID": f"{run_id}:{EXPECTED}"})
            assert [e.event for e in finished] == ["done"]

            # Union of what the client saw: every entry once, in order, from one generation.
            union = [e.data["entry"]["id"] for e in of(head, "entry") + of(rest, "entry")]
            assert len(union) == len(set(union)) == EXPECTED
            assert union == [e.data["entry"]["id"] for e in of(tail, "entry")]

            bad = await client.get(f"/v1/ai/calendar/runs/{run_id}/events",
                                   headers={"Last-Event-ID": "someone-else:3"})
            assert bad.status_code == 422
        assert fake.calls == 1
    assert (await table_counts(db_url))["calendar_entries"] == EXPECTED


async def test_a_run_finishes_and_saves_everything_after_the_client_leaves(
    settings_factory: Callable[..., Settings], db_url: str
) -> None:
    with fake_llm(FakeLLMConfig(entry_delay=0.05)) as (fake, base_url):
        settings = settings_factory(CALENDAR_SERVICE_ENABLED=True, LLM_BASE_URL=base_url)
        async with live_app(settings) as (_app, client):
            head = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF,
                                     stop_after_entries=1)
            run_id = head[0].data["runId"]
            status = await wait_run_settled(client, run_id)
            metrics = (await client.get("/metrics")).text
        assert fake.calls == 1
    assert status["status"] == "completed"
    assert status["entryCount"] == EXPECTED
    counts = await table_counts(db_url)
    assert counts["calendar_entries"] == counts["entry_revisions"] == EXPECTED
    assert 'postplan_sse_streams_total{outcome="client_closed"}' in metrics
    assert "postplan_sse_open_streams 0.0" in metrics


async def test_resume_on_another_process_tails_the_database(
    settings_factory: Callable[..., Settings], db_url: str
) -> None:
    with fake_llm(FakeLLMConfig(entry_delay=0.1)) as (fake, base_url):
        settings = settings_factory(CALENDAR_SERVICE_ENABLED=True, LLM_BASE_URL=base_url)
        async with live_app(settings) as (_a, first), live_app(settings) as (_b, second):
            head = await read_stream(first, "POST", "/v1/ai/calendar", json_body=BRIEF,
                                     stop_after_entries=3)
            run_id = head[0].data["runId"]
            # The second app never ran this generation: it replays and polls the database.
            rest = await read_stream(second, "GET", f"/v1/ai/calendar/runs/{run_id}/events",
                                     headers={"Last-Event-ID": f"{run_id}:3"})
        assert fake.calls == 1
    assert [e.data["seq"] for e in of(rest, "entry")] == list(range(4, EXPECTED + 1))
    assert rest[-1].data == {"runId": run_id, "status": "completed", "entryCount": EXPECTED}
    assert (await table_counts(db_url))["calendar_entries"] == EXPECTED
