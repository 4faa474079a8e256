"""A run nobody listens to is stopped: its model call is closed and what was saved is kept.

A client that disconnects may resume (here or on another process) within RUN_ABANDON_SECONDS;
after that the run ends `cancelled` with error `run_abandoned`, and no more tokens are paid for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from postplan.config import Settings
from postplan.generation.planner import count_slots
from postplan.generation.schemas import Brief
from tests.fakes.llm_server import FakeLLM, FakeLLMConfig, fake_llm
from tests.fakes.sse_client import (
    live_app,
    of,
    read_stream,
    table_counts,
    until,
    wait_run_settled,
)

pytestmark = [pytest.mark.timeout(60), pytest.mark.live]

BRIEF: dict[str, Any] = {"brand": "Acme Coffee", "startDate": "2026-12-01", "days": 14,
                         "timezone": "Europe/Berlin", "channels": ["tiktok", "instagram"]}
EXPECTED = count_slots(Brief.model_validate(BRIEF))


async def test_abandoned_runs_are_cancelled_and_their_model_calls_closed(
    settings_factory: Callable[..., Settings], db_url: str
) -> None:
    clients = 3
    # 0.4 s per entry: a whole answer would take ~6 s; the clients leave after the first.
    with fake_llm(FakeLLMConfig(entry_delay=0.4)) as (fake, base_url):
        settings = settings_factory(CALENDAR_SERVICE_ENABLED=True, LLM_BASE_URL=base_url,
                                    RUN_ABANDON_SECONDS=0.5, AI_TIMEOUT_SECONDS=60)
        async with live_app(settings) as (_app, client):
            heads = await asyncio.gather(*(
                read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF,
                            stop_after_entries=1) for _ in range(clients)))
            run_ids = [head[0].data["runId"] for head in heads]
            statuses = [await wait_run_settled(client, run_id) for run_id in run_ids]
            # The model server saw every answer's connection closed mid-answer.
            assert await until(lambda: fake.closed_early == clients), _llm(fake)
            replays = [await read_stream(client, "GET", f"/v1/ai/calendar/runs/{run_id}/events")
                       for run_id in run_ids]
        assert fake.calls == clients
        assert fake.finished == 0 and fake.streaming == 0, _llm(fake)
    for run_id, status, replay in zip(run_ids, statuses, replays, strict=True):
        assert status["status"] == "cancelled", status
        assert status["error"]["code"] == "run_abandoned"
        kept = status["entryCount"]
        assert 1 <= kept < EXPECTED
        # What was saved is kept and replayable; the stream ends with the settled status.
        assert [e.data["seq"] for e in of(replay, "entry")] == list(range(1, kept + 1))
        assert of(replay, "error")[0].data["code"] == "run_abandoned"
        assert replay[-1].data == {"runId": run_id, "status": "cancelled", "entryCount": kept}
    counts = await table_counts(db_url)
    assert counts["calendar_entries"] == counts["entry_revisions"] == sum(
        s["entryCount"] for s in statuses)


async def test_a_run_someone_resumes_elsewhere_is_not_abandoned(
    settings_factory: Callable[..., Settings], db_url: str
) -> None:
    # The run takes ~14 × 0.2 s, several abandon windows; its first client leaves at once and
    # the rest is read from another process, whose tail marks the run as listened to.
    with fake_llm(FakeLLMConfig(entry_delay=0.2)) as (fake, base_url):
        settings = settings_factory(CALENDAR_SERVICE_ENABLED=True, LLM_BASE_URL=base_url,
                                    RUN_ABANDON_SECONDS=0.8, RUN_TAIL_POLL_SECONDS=0.05,
                                    RUN_TAIL_POLL_MAX_SECONDS=0.2)
        async with live_app(settings) as (_a, first), live_app(settings) as (_b, second):
            head = await read_stream(first, "POST", "/v1/ai/calendar", json_body=BRIEF,
                                     stop_after_entries=1)
            run_id = head[0].data["runId"]
            rest = await read_stream(second, "GET", f"/v1/ai/calendar/runs/{run_id}/events",
                                     headers={"Last-Event-ID": f"{run_id}:1"})
        assert fake.calls == 1 and fake.finished == 1
    assert [e.data["seq"] for e in of(rest, "entry")] == list(range(2, EXPECTED + 1))
    assert rest[-1].data == {"runId": run_id, "status": "completed", "entryCount": EXPECTED}


def _llm(fake: FakeLLM) -> dict[str, int]:
    return {"calls": fake.calls, "finished": fake.finished, "closedEarly": fake.closed_early,
            "streaming": fake.streaming}
