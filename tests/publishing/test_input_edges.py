"""Hostile and careless input to the publishing endpoints: a 4xx problem, never a 500, nothing
stored. Through real uvicorn, on SQLite and Postgres (which refuses NUL in text and jsonb)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from postplan.config import Settings
from tests.fixtures.factories import seed_calendar

pytestmark = [pytest.mark.timeout(90), pytest.mark.live]
live_only = pytest.mark.parametrize("transport", ["live"], indirect=True)


@pytest.fixture
async def api(client_factory: Callable[..., Any],
              settings_factory: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, TOKEN_ENCRYPTION_KEY="k" * 32)
    async with client_factory(settings) as client:
        yield client


def assert_422(res: httpx.Response) -> None:
    assert res.status_code == 422, res.text
    assert res.headers["content-type"].startswith("application/problem+json")


@live_only
async def test_publish_body_and_headers_are_checked_before_anything_is_stored(
        api: httpx.AsyncClient, db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=2)
    url = f"/v1/calendars/{seeded.calendar_id}/publish"
    for body in ({"privacyLevel": "SELF_ONLY\x00"}, {"privacyLevel": "self only"},
                 {"dryRun": 0}, {"dryRun": "false"}, {"when": "later"},
                 {"entryIds": ["not-a-uuid"]}, {"channels": []}):
        assert_422(await api.post(url, json=body))
    for key in (b"\xff\xfe", b"k" * 256, b"tab\there"):
        assert_422(await api.post(url, json={}, headers={"Idempotency-Key": key}))
    intents = await api.get("/v1/publish-intents")
    assert intents.json()["items"] == []
    ok = await api.post(url, json={"privacyLevel": "SELF_ONLY"},
                        headers={"Idempotency-Key": "a key with spaces 123"})
    assert ok.status_code in (200, 207), ok.text


@live_only
async def test_connection_fields_are_checked(api: httpx.AsyncClient) -> None:
    """A NUL in the account id answered 500 on Postgres; a token with CR/LF would later be sent
    in an Authorization header; a year-9999 expiry is no expiry."""
    url = "/v1/channels/tiktok/connection"
    good = {"accessToken": "act.token-123", "accountId": "open-1"}
    for body in ({**good, "accountId": "open\x00"}, {**good, "accessToken": "act\r\nX-Evil: 1"},
                 {**good, "accessToken": "two words"}, {**good, "refreshToken": "rft\x00"},
                 {**good, "expiresAt": "9999-12-31T23:59:59Z"},
                 {**good, "expiresAt": "0001-01-01T00:00:00+14:00"},
                 {**good, "expiresAt": 1893456000}):
        assert_422(await api.put(url, json=body))
    assert (await api.get(url)).status_code == 404  # nothing was stored
    assert (await api.put(url, json={**good, "expiresAt": "2030-01-01T00:00:00Z"})
            ).status_code == 200


@live_only
async def test_listing_filters_are_documented_values(api: httpx.AsyncClient) -> None:
    for params in ({"status": "pending\x00"}, {"status": "nope"}, {"limit": "0"},
                   {"limit": "1.5"}, {"calendarId": "x"}):
        assert_422(await api.get("/v1/publish-intents", params=params))
    assert (await api.get("/v1/publish-intents", params={"status": "pending"})).status_code == 200
