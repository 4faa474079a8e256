"""Idempotency-Key with Stripe semantics on the publish endpoint."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from postplan.config import Settings
from postplan.core.db import create_sessionmaker
from postplan.publishing.intake import idempotency
from postplan.publishing.tables import intents
from tests.publishing.conftest import APP_CREDS, connect, seed_calendar


async def _count_intents(engine: Any, calendar_id: uuid.UUID) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(
            select(func.count()).select_from(intents).where(intents.c.calendar_id == calendar_id)
        )).scalar_one())


async def test_parallel_same_key_records_one_set_and_replays(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings],
    engine: Any,
) -> None:
    cal, _ = await seed_calendar(engine, count=6)
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **APP_CREDS)
    async with publish_client(settings) as client:
        await connect(client, "tiktok")
        await connect(client, "instagram")
        url = f"/v1/calendars/{cal}/publish"
        body = {"dryRun": False, "when": "scheduled"}
        headers = {"Idempotency-Key": "key-1"}
        responses = await asyncio.gather(
            *(client.post(url, json=body, headers=headers) for _ in range(10)))
        codes = sorted(r.status_code for r in responses)
        assert set(codes) <= {200, 409}, codes
        assert 200 in codes
        ok = [r for r in responses if r.status_code == 200]
        assert len({r.content for r in ok}) == 1
        for r in responses:
            if r.status_code == 409:
                assert r.json()["code"] == "idempotency_key_in_progress"
        assert await _count_intents(engine, cal) == 6
        # After the first finished, every retry replays the same bytes and status.
        replay = await client.post(url, json=body, headers=headers)
        assert replay.status_code == 200
        assert replay.content == ok[0].content
        assert replay.headers.get("idempotent-replayed") == "true"
        assert await _count_intents(engine, cal) == 6
        # Same key, other body → 422; nothing recorded.
        other = await client.post(url, json={**body, "channels": ["tiktok"]}, headers=headers)
        assert other.status_code == 422
        assert other.json()["code"] == "idempotency_key_reused"
        # Keys are per user: another user's same key is a different request (404: not theirs).
        mallory = await client.post(url, json=body,
                                    headers={**headers, "X-User-Id": "mallory"})
        assert mallory.status_code == 404
        assert await _count_intents(engine, cal) == 6


async def test_failed_request_releases_key_and_207_is_replayed(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings],
    engine: Any,
) -> None:
    cal, _ = await seed_calendar(engine, entries=[
        {"channel": "tiktok", "format": "video"},
        {"channel": "tiktok", "format": "video", "media": []},
    ])
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **APP_CREDS)
    async with publish_client(settings) as client:
        url = f"/v1/calendars/{cal}/publish"
        body = {"dryRun": False}
        headers = {"Idempotency-Key": "key-2"}
        first = await client.post(url, json=body, headers=headers)
        assert first.status_code == 422  # not connected: nothing done, key released
        await connect(client, "tiktok")
        second = await client.post(url, json=body, headers=headers)
        assert second.status_code == 207
        third = await client.post(url, json=body, headers=headers)
        assert third.status_code == 207
        assert third.content == second.content


async def test_in_progress_key_is_409_and_stale_one_is_taken_over(
    db_url: str, engine: Any,
) -> None:
    maker = create_sessionmaker(engine)
    first = await idempotency.begin(maker, "u", "publish", "k", "h1")
    assert isinstance(first, idempotency.Claim)
    with pytest.raises(idempotency.IdempotencyKeyInProgress):
        await idempotency.begin(maker, "u", "publish", "k", "h1")
    async with maker() as session:
        await session.execute(
            idempotency.keys.update().values(
                updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)))
        await session.commit()
    again = await idempotency.begin(maker, "u", "publish", "k", "h1")
    assert isinstance(again, idempotency.Claim)
    assert again.row_id == first.row_id


def test_fingerprint_names_the_mounted_route_as_keys_already_stored_do(
    settings_factory: Callable[..., Settings],
) -> None:
    # Keys claimed before a deploy hold fingerprints of this exact route string: the endpoint
    # and the spool drain (both through `transaction.fingerprint`) must keep producing it, or a
    # retry after the deploy would be refused as a reused key.
    from postplan.app import create_app
    from postplan.publishing.intake import transaction

    calendar_id = uuid.uuid4()
    body = {"entry_ids": None, "channels": ["tiktok"], "dry_run": True, "when": "now",
            "privacy_level": None}
    assert transaction.fingerprint(calendar_id, body) == idempotency.request_hash(
        f"POST /v1/calendars/{calendar_id}/publish", body)
    paths = create_app(settings_factory()).openapi()["paths"]
    assert "post" in paths[transaction.API_PREFIX + transaction.PATH]
