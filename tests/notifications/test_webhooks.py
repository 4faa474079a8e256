"""Notifications and webhooks (DESIGN §9): events recorded with the state change, listed newest
first; webhook URLs checked; deliveries signed (Standard Webhooks), retried from the database
after a 500 or a timeout, and never in publishing's way."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from postplan.app import create_app
from postplan.channels.base import PermanentError
from postplan.config import Settings
from postplan.notifications.urlcheck import WebhookUrlForbidden, check_url
from tests.fixtures.apps import LiveServer
from tests.notifications.receiver import Endpoint, receiver_app
from tests.publishing.conftest import APP_CREDS, StubGateway, connect, seed_calendar
from tests.publishing.helpers import make_worker, run_until_idle, statuses

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize("url", [
    "https://10.1.2.3/hook", "https://192.168.0.10/hook", "https://169.254.169.254/latest",
    "https://[fe80::1]/hook", "https://100.64.0.1/hook", "https://0.0.0.0/hook",
    "http://93.184.215.14/hook", "ftp://93.184.215.14/hook",
    "https://user:pw@93.184.215.14/hook", "https://[::ffff:10.0.0.1]/hook",
])
async def test_forbidden_webhook_urls(url: str) -> None:
    with pytest.raises(WebhookUrlForbidden):
        await check_url(url, dev=True)


async def test_loopback_only_in_dev() -> None:
    await check_url("http://127.0.0.1:9/hook", dev=True)
    await check_url("https://93.184.215.14/hook", dev=False)
    for url in ("http://127.0.0.1:9/hook", "https://localhost/hook", "https://[::1]/h"):
        with pytest.raises(WebhookUrlForbidden):
            await check_url(url, dev=False)


@pytest.mark.parametrize("transport", ["inprocess"])
async def test_webhook_crud_and_worker_events(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings], engine: Any,
    gateway: StubGateway,
) -> None:
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, **APP_CREDS)
    cal, _ = await seed_calendar(engine, count=2)
    gateway.adapters["instagram"].script["publish"] = [
        PermanentError("media_invalid", "the platform refused the media")]
    async with publish_client(settings) as client:
        bad = await client.post("/v1/webhooks", json={"url": "https://10.0.0.7/h"})
        assert bad.status_code == 422 and bad.json()["code"] == "webhook_url_forbidden"
        bad = await client.post("/v1/webhooks", json={"url": "https://93.184.215.14/h",
                                                       "events": ["intent.nope"]})
        assert bad.status_code == 422
        made = await client.post("/v1/webhooks", json={"url": "https://93.184.215.14/h",
                                                        "events": ["intent.published"]})
        assert made.status_code == 201, made.text
        hook = made.json()
        assert hook["secret"].startswith("whsec_") and hook["events"] == ["intent.published"]
        listed = (await client.get("/v1/webhooks")).json()["items"]
        assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
        assert hook["secret"] not in (await client.get("/v1/webhooks")).text
        theirs = await client.delete(f"/v1/webhooks/{hook['id']}",
                                     headers={"X-User-Id": "mallory"})
        assert theirs.status_code == 404
        assert (await client.get(f"/v1/webhooks/{hook['id']}/deliveries",
                                 headers={"X-User-Id": "mallory"})).status_code == 404

        await connect(client, "tiktok")
        await connect(client, "instagram")
        await client.post(f"/v1/calendars/{cal}/publish", json={"dryRun": False, "when": "now"})
        await run_until_idle(make_worker(engine, settings, gateway))
        assert await statuses(engine) == {"published": 1, "failed": 1}
        notes = (await client.get("/v1/notifications")).json()["items"]
        events = sorted(n["event"] for n in notes)
        assert events == ["intent.failed", "intent.published"], notes
        failed = next(n for n in notes if n["event"] == "intent.failed")
        assert failed["data"]["channel"] == "instagram" and failed["data"]["error"]["code"]
        assert (await client.get("/v1/notifications",
                                 headers={"X-User-Id": "mallory"})).json()["items"] == []
        assert (await client.delete(f"/v1/webhooks/{hook['id']}")).status_code == 204
        assert (await client.get("/v1/webhooks")).json()["items"] == []


async def _until(check: Callable[[], Any], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_deliveries_retry_a_500_and_a_timeout_without_slowing_publishing(
    settings_factory: Callable[..., Settings], engine: Any, gateway: StubGateway,
) -> None:
    settings = settings_factory(
        PUBLISH_SERVICE_ENABLED=True, WORKER_POLL_SECONDS=0.05, WEBHOOK_POLL_SECONDS=0.05,
        WEBHOOK_TIMEOUT_SECONDS=0.4, WEBHOOK_RETRY_BASE_SECONDS=0.2, **APP_CREDS)
    endpoints = {"flaky": Endpoint(script=["500"]),
                 "slow": Endpoint(script=["hang", "hang"], hang_seconds=3.0)}
    receiver = LiveServer(receiver_app(endpoints))  # type: ignore[arg-type]
    receiver.start()
    cal, _ = await seed_calendar(engine, count=2)
    app = create_app(settings, migrate=False, run_worker=True)
    app.state.channel_gateway = gateway
    server = LiveServer(app)
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            for name, ep in endpoints.items():
                made = await client.post("/v1/webhooks",
                                         json={"url": f"{receiver.url}/{name}"})
                assert made.status_code == 201, made.text
                ep.secret = made.json()["secret"]
            await connect(client, "tiktok")
            await connect(client, "instagram")
            started = time.monotonic()
            resp = await client.post(f"/v1/calendars/{cal}/publish",
                                     json={"dryRun": False, "when": "now"})
            assert resp.json()["summary"]["queued"] == 2

            async def published() -> bool:
                return await statuses(engine) == {"published": 2}

            await _until(published, 10)
            # Publishing finished well inside one hung delivery (3 s).
            assert time.monotonic() - started < 2.5

            hooks = (await client.get("/v1/webhooks")).json()["items"]
            by_url = {h["url"].rsplit("/", 1)[1]: h["id"] for h in hooks}

            async def delivered() -> bool:
                # Received by the endpoint, and the loop's record of it written (the answer
                # reaches the endpoint's log before the loop writes the row).
                if not all(len(ep.verified) == 2 for ep in endpoints.values()):
                    return False
                for hook_id in by_url.values():
                    rows = (await client.get(f"/v1/webhooks/{hook_id}/deliveries")
                            ).json()["items"]
                    if {r["status"] for r in rows} != {"delivered"}:
                        return False
                return True

            await _until(delivered, 20)
            for name, ep in endpoints.items():
                assert {p["type"] for p in ep.verified} == {"intent.published"}
                assert len(set(ep.ids)) == 2  # one message id per event, kept across retries
                rows = (await client.get(f"/v1/webhooks/{by_url[name]}/deliveries")
                        ).json()["items"]
                assert {r["status"] for r in rows} == {"delivered"}
                assert sum(r["attempts"] for r in rows) == len(ep.attempts)
            assert len(endpoints["flaky"].attempts) == 3  # one 500, then two deliveries
            assert len(endpoints["slow"].attempts) == 4  # two timeouts, then two deliveries
    finally:
        server.stop()
        receiver.stop()


@pytest.mark.parametrize("transport", ["inprocess"])
async def test_a_finished_run_is_an_event(
    client_factory: Callable[..., Any], settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(CALENDAR_SERVICE_ENABLED=True)
    brief = {"brand": "Acme", "startDate": "2026-12-10", "days": 7, "channels": ["tiktok"]}
    async with client_factory(settings) as client:
        async with client.stream("POST", "/v1/ai/calendar", json=brief) as resp:
            assert resp.status_code == 200
            await resp.aread()
        notes = (await client.get("/v1/notifications")).json()["items"]
    assert [n["event"] for n in notes] == ["run.completed"], notes
    assert notes[0]["data"]["status"] == "completed" and notes[0]["data"]["entryCount"] > 0
    assert notes[0]["runId"] == notes[0]["data"]["runId"]
