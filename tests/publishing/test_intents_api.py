"""Intent listing (paged, filtered, per user), metrics, and the in-process worker of `serve`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from postplan.config import Settings
from tests.fixtures.apps import in_process_client
from tests.publishing.conftest import APP_CREDS, StubGateway, connect, seed_calendar


async def test_list_is_paged_filtered_and_scoped(
    publish_client: Callable[..., Any], settings_factory: Callable[..., Settings], engine: Any,
) -> None:
    cal, _ = await seed_calendar(engine, count=5)
    other, _ = await seed_calendar(engine, "mallory", count=1)
    async with publish_client(settings_factory(**APP_CREDS)) as client:
        await client.post(f"/v1/calendars/{cal}/publish", json={})
        await client.post(f"/v1/calendars/{other}/publish", json={},
                          headers={"X-User-Id": "mallory"})
        seen: list[str] = []
        cursor = None
        while True:
            params = {"calendarId": str(cal), "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/publish-intents", params=params)).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["nextCursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 5
        mine = (await client.get("/v1/publish-intents")).json()["items"]
        assert len(mine) == 5
        assert (await client.get("/v1/publish-intents",
                                 params={"status": "pending"})).json()["items"] == []
        bad = await client.get("/v1/publish-intents", params={"status": "nope"})
        assert bad.status_code == 422
        theirs = await client.get("/v1/publish-intents", params={"calendarId": str(other)})
        assert theirs.status_code == 404
        metrics = (await client.get("/metrics")).text
        assert 'postplan_request_duration_seconds_count{endpoint="publish"}' in metrics
        assert 'postplan_publish_results_total{channel="tiktok",outcome="dry_run"}' in metrics


async def test_serve_runs_the_worker_in_process(
    settings_factory: Callable[..., Settings], engine: Any, gateway: StubGateway,
) -> None:
    from postplan.app import create_app

    cal, _ = await seed_calendar(engine, count=2)
    settings = settings_factory(PUBLISH_SERVICE_ENABLED=True, WORKER_POLL_SECONDS=0.05,
                                **APP_CREDS)
    app = create_app(settings, migrate=False, run_worker=True)
    app.state.channel_gateway = gateway
    async with in_process_client(app) as client:
        await connect(client, "tiktok")
        await connect(client, "instagram")
        resp = await client.post(f"/v1/calendars/{cal}/publish",
                                 json={"dryRun": False, "when": "now"})
        assert resp.status_code == 200, resp.text
        for _ in range(200):
            items = (await client.get("/v1/publish-intents")).json()["items"]
            if all(i["status"] == "published" for i in items):
                break
            await asyncio.sleep(0.05)
        assert [i["status"] for i in items] == ["published", "published"]
        detail = (await client.get(f"/v1/publish-intents/{items[0]['id']}")).json()
        assert detail["platformPostId"]
        assert [a["step"] for a in detail["attemptLog"]][-1] == "publish"
