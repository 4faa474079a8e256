"""A request's transaction is committed before its response leaves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.factories import seed_calendar


@pytest.mark.parametrize("transport", ["live"], indirect=True)
async def test_write_is_visible_to_the_next_request(
    client_factory: Callable[..., Any], settings_factory: Callable[..., Any], db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeded = await seed_calendar(db_url, entries=1)
    real_commit = AsyncSession.commit

    async def slow_commit(self: AsyncSession) -> None:
        # A slow commit widens the window in which a reader could see the old row if the
        # commit ran after the response was sent.
        await asyncio.sleep(0.3)
        await real_commit(self)

    monkeypatch.setattr(AsyncSession, "commit", slow_commit)
    async with client_factory(settings_factory()) as client:
        url = f"/v1/calendars/{seeded.calendar_id}/entries/{seeded.entry_ids[0]}"
        res = await client.patch(url, json={"hook": "durable"})
        assert res.status_code == 200
        after = await client.get(f"/v1/calendars/{seeded.calendar_id}/entries")
        assert after.json()["items"][0]["hook"] == "durable"
