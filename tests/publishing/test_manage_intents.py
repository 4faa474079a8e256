"""Intents a person settles (DESIGN §9): cancel, resolve an `unknown` one, retry a failed one;
deleting an entry or a calendar cancels its pending intents. Stub channels, both databases,
both transports."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update

from postplan.config import Settings
from postplan.publishing.tables import attempts, intents
from tests.publishing.conftest import APP_CREDS, StubGateway, connect, seed_calendar
from tests.publishing.helpers import attempt_rows, intent_rows, make_worker, run_until_idle

pytestmark = [pytest.mark.timeout(90),
              # Through uvicorn only: the in-process transport adds nothing these do not test.
              pytest.mark.parametrize("transport", ["live"])]


async def _set(engine: Any, intent_id: str, **values: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(intents).where(intents.c.id == uuid.UUID(intent_id))
                           .values(**values))


async def test_cancel_resolve_retry(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings], engine: Any,
    gateway: StubGateway,
) -> None:
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **APP_CREDS)
    cal, entries = await seed_calendar(engine, count=3)
    async with publish_client(settings) as client:
        await connect(client, "tiktok")
        await connect(client, "instagram")
        queued = await client.post(f"/v1/calendars/{cal}/publish",
                                   json={"dryRun": False, "when": "scheduled"})
        assert queued.json()["summary"]["queued"] == 3, queued.text
        ids = {r["entryId"]: r["intentId"] for r in queued.json()["results"]}
        first, second, third = (ids[str(e)] for e in entries)

        # Cancel a pending intent: 200, cancelled; again: still 200; another user: 404.
        done = await client.post(f"/v1/publish-intents/{first}/cancel")
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "cancelled" and done.json()["cancelled"] is True
        assert ("cancel", "cancelled") in [(a["step"], a["outcome"])
                                           for a in done.json()["attemptLog"]]
        assert (await client.post(f"/v1/publish-intents/{first}/cancel")).status_code == 200
        theirs = await client.post(f"/v1/publish-intents/{second}/cancel",
                                   headers={"X-User-Id": "mallory"})
        assert theirs.status_code == 404 and theirs.json()["code"] == "intent_not_found"
        missing = await client.post(f"/v1/publish-intents/{uuid.uuid4()}/resolve",
                                    json={"outcome": "not_published"})
        assert missing.status_code == 404

        # A published intent cannot be cancelled; the answer says it was sent.
        await _set(engine, second, status="published", platform_post_id="p-2")
        late = await client.post(f"/v1/publish-intents/{second}/cancel")
        assert late.status_code == 409
        assert late.json()["code"] == "intent_not_cancellable"
        assert late.json()["intentStatus"] == "published" and late.json()["sent"] is True
        # Resolve needs an unknown intent; retry a failed one.
        wrong = await client.post(f"/v1/publish-intents/{second}/resolve",
                                  json={"outcome": "published"})
        assert wrong.status_code == 409 and wrong.json()["code"] == "intent_not_unknown"
        assert (await client.post(f"/v1/publish-intents/{second}/retry")).status_code == 409
        bad = await client.post(f"/v1/publish-intents/{second}/resolve",
                                json={"outcome": "maybe"})
        assert bad.status_code == 422

        # Unknown → resolved as not published: the entry can be published again.
        await _set(engine, third, status="unknown", platform_handle="h-3")
        blocked = await client.post(f"/v1/calendars/{cal}/publish", json={
            "dryRun": False, "entryIds": [str(entries[2])]})
        assert blocked.json()["results"][0]["error"]["code"] == "already_queued"
        settled = await client.post(f"/v1/publish-intents/{third}/resolve",
                                    json={"outcome": "not_published"})
        assert settled.status_code == 200, settled.text
        assert settled.json()["status"] == "failed"
        assert settled.json()["error"]["code"] == "not_published"
        again = await client.post(f"/v1/calendars/{cal}/publish", json={
            "dryRun": False, "entryIds": [str(entries[2])]})
        assert again.json()["summary"]["queued"] == 1, again.text
        new_third = again.json()["results"][0]["intentId"]
        # Retrying the settled one now would make two live intents for one entry: refused.
        dup = await client.post(f"/v1/publish-intents/{third}/retry")
        assert dup.status_code == 409 and dup.json()["reason"] == "already_queued"

        # Unknown → resolved as published with the post's id and URL.
        await _set(engine, new_third, status="unknown")
        pub = await client.post(f"/v1/publish-intents/{new_third}/resolve", json={
            "outcome": "published", "platformPostId": "ig-77",
            "url": "https://instagram.example/p/77"})
        assert pub.status_code == 200
        assert pub.json()["status"] == "published" and pub.json()["platformPostId"] == "ig-77"
        (log,) = [a for a in pub.json()["attemptLog"] if a["step"] == "resolve"]
        assert log["detail"]["url"] == "https://instagram.example/p/77"

        # A cancelled intent cannot be retried; a failed one goes back to pending and is sent.
        assert (await client.post(f"/v1/publish-intents/{first}/retry")).status_code == 409
        await _set(engine, first, status="failed", error={"code": "x", "message": "x"})
        retried = await client.post(f"/v1/publish-intents/{first}/retry")
        assert retried.status_code == 200, retried.text
        assert retried.json()["status"] == "pending" and retried.json()["error"] is None
    async with engine.begin() as conn:
        await conn.execute(update(intents).where(intents.c.id == uuid.UUID(first))
                           .values(run_after=intents.c.created_at))
    await run_until_idle(make_worker(engine, settings, gateway))
    rows = {str(r.id): r for r in await intent_rows(engine)}
    assert rows[first].status == "published"
    assert [a.step for a in await attempt_rows(engine, uuid.UUID(first))].count("retry") == 1


async def test_a_failed_intent_that_went_live_is_not_retried(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings], engine: Any,
) -> None:
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **APP_CREDS)
    cal, _ = await seed_calendar(engine, count=1)
    async with publish_client(settings) as client:
        await connect(client, "tiktok")
        queued = await client.post(f"/v1/calendars/{cal}/publish", json={"dryRun": False})
        intent = queued.json()["results"][0]["intentId"]
        await _set(engine, intent, status="failed")
        async with engine.begin() as conn:
            await conn.execute(attempts.insert().values(
                id=uuid.uuid4(), intent_id=uuid.UUID(intent), user_id="local", attempt_no=1,
                step="publish", outcome="published"))
        refused = await client.post(f"/v1/publish-intents/{intent}/retry")
        assert refused.status_code == 409 and refused.json()["reason"] == "published_before"


async def test_deleting_an_entry_or_calendar_cancels_its_pending_intents(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings], engine: Any,
) -> None:
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **APP_CREDS)
    cal, entries = await seed_calendar(engine, count=3)
    async with publish_client(settings) as client:
        await connect(client, "tiktok")
        await connect(client, "instagram")
        queued = await client.post(f"/v1/calendars/{cal}/publish",
                                   json={"dryRun": False, "when": "scheduled"})
        ids = {r["entryId"]: r["intentId"] for r in queued.json()["results"]}
        await _set(engine, ids[str(entries[1])], status="published", platform_post_id="p")
        gone = await client.delete(f"/v1/calendars/{cal}/entries/{entries[0]}")
        assert gone.status_code == 204
        first = (await client.get(f"/v1/publish-intents/{ids[str(entries[0])]}")).json()
        assert first["status"] == "cancelled" and first["error"]["code"] == "entry_deleted"
        assert (await client.delete(f"/v1/calendars/{cal}")).status_code == 204
        third = (await client.get(f"/v1/publish-intents/{ids[str(entries[2])]}")).json()
        assert third["status"] == "cancelled" and third["error"]["code"] == "calendar_deleted"
        # Published history stays readable.
        kept = await client.get(f"/v1/publish-intents/{ids[str(entries[1])]}")
        assert kept.status_code == 200 and kept.json()["status"] == "published"
        listed = (await client.get("/v1/publish-intents")).json()["items"]
        assert len(listed) == 3
