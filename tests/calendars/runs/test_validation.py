"""Bad briefs are refused with 422 problem+json before any stream starts, and write nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from postplan.config import Settings
from tests.fakes.sse_client import live_app, table_counts

pytestmark = [pytest.mark.timeout(90), pytest.mark.live]

GOOD: dict[str, Any] = {"brand": "Acme", "startDate": "2026-12-01", "days": 7,
                        "channels": ["tiktok"]}

BAD: list[tuple[str, dict[str, Any], str]] = [
    ("days zero", {**GOOD, "days": 0}, "days"),
    ("days 1000", {**GOOD, "days": 1000}, "days"),
    ("unknown timezone", {**GOOD, "timezone": "Mars/Olympus_Mons"}, "timezone"),
    ("malformed date", {**GOOD, "startDate": "2026-13-45"}, "startDate"),
    ("empty channels", {**GOOD, "channels": []}, "channels"),
    ("unknown channel", {**GOOD, "channels": ["myspace"]}, "channels"),
    ("10,000-character brand", {**GOOD, "brand": "b" * 10_000}, "brand"),
    ("more pillars than slots",
     {**GOOD, "days": 1, "pillars": ["one", "two", "three", "four", "five"]}, "pillars"),
    ("missing brand", {k: v for k, v in GOOD.items() if k != "brand"}, "brand"),
]


@pytest.mark.parametrize("flag", [True, False], ids=["service-on", "legacy"])
async def test_bad_briefs_are_422_and_write_nothing(
    settings_factory: Callable[..., Settings], db_url: str, flag: bool
) -> None:
    settings = settings_factory(CALENDAR_SERVICE_ENABLED=flag)
    async with live_app(settings) as (_app, client):
        for label, body, field in BAD:
            response = await client.post("/v1/ai/calendar", json=body)
            assert response.status_code == 422, label
            assert response.headers["content-type"].startswith("application/problem+json")
            problem = response.json()
            assert problem["status"] == 422
            assert any(e["field"].startswith(field) for e in problem["errors"]), (label, problem)
        malformed = await client.post("/v1/ai/calendar", content=b"{not json",
                                      headers={"content-type": "application/json"})
        assert malformed.status_code in (400, 422)
    assert await table_counts(db_url) == {"calendars": 0, "calendar_runs": 0,
                                          "calendar_entries": 0, "entry_revisions": 0}
