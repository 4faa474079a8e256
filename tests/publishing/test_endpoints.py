"""POST /v1/calendars/{id}/publish, intents, over both databases and both transports."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from postplan.config import Settings
from tests.publishing.conftest import APP_CREDS, StubGateway, connect, seed_calendar


async def test_dry_run_records_intents_and_reports_findings(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings],
    engine: Any,
) -> None:
    cal, ids = await seed_calendar(engine, entries=[
        {"channel": "tiktok", "format": "video"},
        {"channel": "instagram", "format": "reel", "media": []},
        {"channel": "instagram", "format": "image", "caption": "x" * 2300},
    ])
    async with publish_client(settings_factory(**APP_CREDS)) as client:
        resp = await client.post(f"/v1/calendars/{cal}/publish", json={})
        assert resp.status_code == 207, resp.text
        body = resp.json()
        assert body["dryRun"] is True
        assert body["summary"] == {"total": 3, "succeeded": 1, "failed": 2, "queued": 0,
                                   "skipped": 0}
        by_entry = {r["entryId"]: r for r in body["results"]}
        assert by_entry[str(ids[0])]["error"] is None
        assert by_entry[str(ids[0])]["status"] == "dry_run"
        assert by_entry[str(ids[1])]["error"]["code"] == "media_missing"
        assert by_entry[str(ids[2])]["error"]["code"] == "caption_too_long"
        assert by_entry[str(ids[0])]["payload"]["caption"] == "Post 0\n\n#tag"
        listed = await client.get("/v1/publish-intents", params={"calendarId": str(cal)})
        assert listed.status_code == 200
        assert {i["id"] for i in listed.json()["items"]} == {r["intentId"] for r in body["results"]}
        assert all(i["status"] == "dry_run" for i in listed.json()["items"])
        one = await client.get(f"/v1/publish-intents/{body['results'][1]['intentId']}")
        assert one.status_code == 200
        assert one.json()["error"]["code"] == "media_missing"
        other = await client.get(f"/v1/publish-intents/{body['results'][1]['intentId']}",
                                 headers={"X-User-Id": "mallory"})
        assert other.status_code == 404
        only_tiktok = await client.post(f"/v1/calendars/{cal}/publish",
                                        json={"channels": ["tiktok"]})
        assert only_tiktok.status_code == 200
        assert [r["channel"] for r in only_tiktok.json()["results"]] == ["tiktok"]


async def test_flag_off_is_deterministic_and_opens_no_socket(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings],
    engine: Any, monkeypatch: pytest.MonkeyPatch, transport: str,
) -> None:
    cal, _ = await seed_calendar(engine, count=4)
    async with publish_client(settings_factory(**APP_CREDS)) as client:
        await connect(client, "tiktok")
        attempted: list[Any] = []
        real_connect = socket.socket.connect

        allowed = {5432, client.base_url.port}  # the database and the app under test

        def spy(self: socket.socket, address: Any) -> Any:
            if not (isinstance(address, tuple) and address[1] in allowed):
                attempted.append(address)
            return real_connect(self, address)

        monkeypatch.setattr(socket.socket, "connect", spy)
        body = {"dryRun": False, "when": "now"}
        first = await client.post(f"/v1/calendars/{cal}/publish", json=body)
        second = await client.post(f"/v1/calendars/{cal}/publish", json=body)
        assert first.status_code == 200, first.text
        assert first.content == second.content
        assert first.json()["dryRun"] is True
        assert all(r["status"] == "dry_run" for r in first.json()["results"])
        assert attempted == []


async def test_live_publish_without_connection_is_422_before_any_call(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings],
    engine: Any, gateway: StubGateway,
) -> None:
    cal, _ = await seed_calendar(engine, count=2)
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **APP_CREDS)
    async with publish_client(settings) as client:
        await connect(client, "instagram")
        resp = await client.post(f"/v1/calendars/{cal}/publish", json={"dryRun": False})
        assert resp.status_code == 422
        problem = resp.json()
        assert problem["code"] == "channel_auth_missing"
        assert problem["channel"] == "tiktok"
        listed = await client.get("/v1/publish-intents", params={"calendarId": str(cal)})
        assert listed.json()["items"] == []
        # Invalid: the connection needs re-auth.
        await connect(client, "tiktok")
        await client.delete("/v1/channels/tiktok/connection")
        await connect(client, "tiktok", expiresAt="2020-01-01T00:00:00Z", refreshToken=None)
        resp = await client.post(f"/v1/calendars/{cal}/publish", json={"dryRun": False})
        assert resp.json()["code"] == "channel_auth_invalid"
    assert all(a.calls == [] for a in gateway.adapters.values())


async def test_app_credentials_missing_is_config_missing(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings],
    engine: Any,
) -> None:
    cal, _ = await seed_calendar(engine, count=1)
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, TOKEN_ENCRYPTION_KEY="k")
    async with publish_client(settings) as client:
        await connect(client, "tiktok")
        resp = await client.post(f"/v1/calendars/{cal}/publish", json={"dryRun": False})
        assert resp.status_code == 422
        assert resp.json()["code"] == "channel_config_missing"
        assert resp.json()["channel"] == "tiktok"


async def test_live_publish_queues_skips_duplicates_and_uses_the_edited_caption(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings],
    engine: Any,
) -> None:
    cal, ids = await seed_calendar(engine, entries=[
        {"channel": "tiktok", "format": "video"},
        {"channel": "instagram", "format": "reel"},
        {"channel": "instagram", "format": "reel", "media": []},
    ])
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **APP_CREDS)
    async with publish_client(settings) as client:
        await connect(client, "tiktok")
        await connect(client, "instagram")
        edit = await client.patch(f"/v1/calendars/{cal}/entries/{ids[0]}",
                                  json={"caption": "Edited caption"})
        assert edit.status_code == 200, edit.text
        resp = await client.post(f"/v1/calendars/{cal}/publish", json={"dryRun": False})
        assert resp.status_code == 207, resp.text
        body = resp.json()
        assert body["summary"] == {"total": 3, "succeeded": 0, "failed": 1, "queued": 2,
                                   "skipped": 0}
        by_entry = {r["entryId"]: r for r in body["results"]}
        assert by_entry[str(ids[0])]["payload"]["caption"].startswith("Edited caption")
        assert by_entry[str(ids[0])]["status"] == "pending"
        assert by_entry[str(ids[2])]["status"] == "failed"
        again = await client.post(f"/v1/calendars/{cal}/publish",
                                  json={"dryRun": False, "entryIds": [str(ids[0])]})
        assert again.status_code == 200
        assert again.json()["summary"]["skipped"] == 1
        assert again.json()["results"][0]["error"]["code"] == "already_queued"
        assert again.json()["results"][0]["intentId"] == by_entry[str(ids[0])]["intentId"]
        pending = await client.get("/v1/publish-intents", params={"status": "pending"})
        assert len(pending.json()["items"]) == 2


async def test_unknown_entry_and_calendar(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings],
    engine: Any,
) -> None:
    cal, _ = await seed_calendar(engine, count=1)
    async with publish_client(settings_factory()) as client:
        resp = await client.post(f"/v1/calendars/{cal}/publish",
                                 json={"entryIds": ["00000000-0000-0000-0000-000000000001"]})
        assert resp.status_code == 422
        assert resp.json()["code"] == "entry_not_found"
        resp = await client.post(f"/v1/calendars/{cal}/publish", json={},
                                 headers={"X-User-Id": "mallory"})
        assert resp.status_code == 404
        resp = await client.post(f"/v1/calendars/{cal}/publish", json={"bogus": 1})
        assert resp.status_code == 422
