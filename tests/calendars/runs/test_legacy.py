"""CALENDAR_SERVICE_ENABLED off: a deterministic legacy stream, a dry run that writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from postplan.config import Settings
from tests.fakes.llm_server import FakeLLMConfig, fake_llm
from tests.fakes.sse_client import live_app, of, read_stream, table_counts

pytestmark = [pytest.mark.timeout(90), pytest.mark.live]

BRIEF: dict[str, Any] = {"brand": "Acme", "startDate": "2026-12-01", "days": 14,
                         "timezone": "America/New_York", "channels": ["instagram", "tiktok"]}


async def test_legacy_stream_is_deterministic_and_writes_nothing(
    settings_factory: Callable[..., Settings], db_url: str
) -> None:
    with fake_llm(FakeLLMConfig()) as (fake, base_url):
        # Even with an AI configured, the legacy path never calls it.
        settings = settings_factory(CALENDAR_SERVICE_ENABLED=False, LLM_BASE_URL=base_url)
        async with live_app(settings) as (_app, client):
            first = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF)
            second = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF,
                                       headers={"X-User-Id": "someone-else"})
            other = await read_stream(client, "POST", "/v1/ai/calendar",
                                      json_body={**BRIEF, "brand": "Other"})
            run_id = first[0].data["runId"]
            # Nothing was stored, so the run cannot be looked up or replayed.
            assert (await client.get(f"/v1/ai/calendar/runs/{run_id}")).status_code == 404
        assert fake.calls == 0

    assert first[0].data["mode"] == "legacy"
    assert first[0].data["dryRun"] is True
    entries = of(first, "entry")
    assert len(entries) == first[0].data["expectedEntries"] > 0
    assert [(e.event, e.id, e.data) for e in first] == [(e.event, e.id, e.data) for e in second]
    assert first[-1].data == {"runId": run_id, "status": "completed",
                              "entryCount": len(entries)}
    assert other[0].data["runId"] != run_id
    assert await table_counts(db_url) == {"calendars": 0, "calendar_runs": 0,
                                          "calendar_entries": 0, "entry_revisions": 0}
