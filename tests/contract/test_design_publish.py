"""docs/contract.md §2 and §4: export, publish, intents and channel connections, through real
uvicorn with the fake TikTok + Instagram on loopback (SQLite and Postgres)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from postplan.cli import app as cli_app
from postplan.cli.flags import boolean_flag, rollout_flag, write_document
from postplan.core.db import create_engine
from postplan.core.flags import FlagService
from postplan.publishing.gateway import RegistryGateway
from postplan.publishing.worker.context import WorkerConfig
from postplan.publishing.worker.loop import Worker
from tests.contract.helpers import (
    ALICE,
    BOB,
    ON,
    SettingsFactory,
    assert_intent,
    assert_page,
    assert_problem,
    assert_publish_response,
    brief,
    calendar_with_media,
    connect_both,
    generate,
    metric,
    metrics_page,
    served,
    wait_for,
)
from tests.fakes.channels_server import FakeChannelsServer
from tests.fakes.sse_client import of, query
from tests.publishing.fake_gateway import fake_env

pytestmark = [pytest.mark.live, pytest.mark.timeout(180)]


# -- §2 + §4 export ----------------------------------------------------------------------------


async def test_s2_s4_export(settings_factory: SettingsFactory,
                            fake_channels: FakeChannelsServer, tmp_path: Path) -> None:
    flags_file = tmp_path / "flags.json"
    write_document(flags_file, {"flags": {
        "CALENDAR_SERVICE_ENABLED": boolean_flag(True),
        "PUBLISH_SERVICE_ENABLED": rollout_flag(0, ["alice"])}})
    settings = settings_factory(FLAGS_FILE=str(flags_file), **fake_env(fake_channels.url))
    async with served(settings) as (_app, client):
        events = await generate(client, brief(days=3), BOB)
        cal_bob = events[0].data["calendarId"]
        events = await generate(client, brief(days=3), ALICE)
        cal = events[0].data["calendarId"]
        count = len(of(events, "entry"))
        # PUBLISH off (bob): dry-run only, deterministic, even when asking for a live export.
        for fmt in ("csv", "ics", "json"):
            answers = [await client.post(f"/v1/calendars/{cal_bob}/export", headers=BOB,
                                         json={"format": fmt, "dryRun": False})
                       for _ in range(2)]
            assert answers[0].status_code == 200
            assert answers[0].json() == answers[1].json()
            assert answers[0].json()["dryRun"] is True
        # PUBLISH on (alice): live files; dryRun true still answers a dry run.
        media = {"csv": "text/csv", "ics": "text/calendar", "json": "application/json"}
        for fmt, mtype in media.items():
            live = await client.post(f"/v1/calendars/{cal}/export", headers=ALICE,
                                     json={"format": fmt, "dryRun": False})
            assert live.status_code == 200, live.text
            assert live.headers["content-type"].startswith(mtype)
            dry = await client.post(f"/v1/calendars/{cal}/export", headers=ALICE,
                                    json={"format": fmt, "dryRun": True})
            assert dry.json()["dryRun"] is True
        doc = (await client.post(f"/v1/calendars/{cal}/export", headers=ALICE,
                                 json={"format": "json", "dryRun": False})).json()
        assert len(doc["entries"]) == count
        ics = (await client.post(f"/v1/calendars/{cal}/export", headers=ALICE,
                                 json={"format": "ics", "dryRun": False})).text
        assert ics.count("BEGIN:VEVENT") == count
        assert_problem(await client.post(f"/v1/calendars/{cal}/export", headers=ALICE,
                                         json={"format": "pdf"}), 422)
    assert fake_channels.control.calls == []


# -- §2 + §4 publish ---------------------------------------------------------------------------


async def test_s2_s4_publish_dry_run_shape_and_status(
    settings_factory: SettingsFactory, fake_channels: FakeChannelsServer
) -> None:
    settings = settings_factory(**ON, **fake_env(fake_channels.url))
    async with served(settings) as (_app, client):
        before = await metrics_page(client)
        cal, picked = await calendar_with_media(client, fake_channels.url)
        url = f"/v1/calendars/{cal}/publish"
        all_entries = (await client.get(f"/v1/calendars/{cal}/entries",
                                        headers=ALICE)).json()["items"]
        # Default dryRun is true; entries without media fail → 207 (some failed, some not).
        mixed = await client.post(url, json={}, headers=ALICE)
        assert mixed.status_code == 207, mixed.text
        body = mixed.json()
        assert_publish_response(body)
        assert body["dryRun"] is True
        assert {r["entryId"] for r in body["results"]} == {e["id"] for e in all_entries}
        assert body["summary"]["failed"] == len(all_entries) - 2
        assert body["summary"]["succeeded"] == 2
        ok = {r["entryId"]: r for r in body["results"] if r["error"] is None}
        assert set(ok) == {p["id"] for p in picked}
        assert all(r["status"] == "dry_run" for r in body["results"])
        # Only good entries → 200.
        only = await client.post(url, headers=ALICE,
                                 json={"entryIds": [p["id"] for p in picked], "dryRun": True})
        assert only.status_code == 200
        assert only.json()["summary"] == {"total": 2, "succeeded": 2, "failed": 0, "queued": 0,
                                          "skipped": 0}
        # The payload is the request the adapter would send: it carries the saved caption.
        for result in only.json()["results"]:
            entry = next(p for p in picked if p["id"] == result["entryId"])
            assert entry["caption"].split("\n")[0][:40] in json.dumps(result["payload"],
                                                                     ensure_ascii=False)
        # channels filter
        tt = await client.post(url, headers=ALICE, json={"channels": ["tiktok"]})
        assert {r["channel"] for r in tt.json()["results"]} == {"tiktok"}
        # Idempotency-Key replays the first answer.
        key = {"Idempotency-Key": "contract-dry-1"}
        first = await client.post(url, headers={**ALICE, **key}, json={"when": "now"})
        second = await client.post(url, headers={**ALICE, **key}, json={"when": "now"})
        assert first.status_code == second.status_code
        assert first.json() == second.json()
        # Bad bodies are 422 problems.
        assert_problem(await client.post(url, headers=ALICE, json={"when": "later"}), 422)
        assert_problem(await client.post(url, headers=ALICE, json={"channels": ["myspace"]}),
                       422)
        assert_problem(await client.post(url, headers=ALICE, json={
            "entryIds": ["00000000-0000-0000-0000-000000000001"]}), 422)
        # Intents are recorded and listed.
        listed = (await client.get("/v1/publish-intents", headers=ALICE,
                                   params={"calendarId": cal, "status": "dry_run"})).json()
        items = assert_page(listed)
        assert items and all(i["status"] == "dry_run" for i in items)
        first_page = (await client.get("/v1/publish-intents", headers=ALICE,
                                       params={"calendarId": cal, "limit": 1})).json()
        assert len(assert_page(first_page)) == 1 and first_page["nextCursor"]
        second_page = (await client.get("/v1/publish-intents", headers=ALICE, params={
            "calendarId": cal, "limit": 1, "cursor": first_page["nextCursor"]})).json()
        assert assert_page(second_page)[0]["id"] != first_page["items"][0]["id"]
        for intent in items:
            assert_intent(intent)
        one = await client.get(f"/v1/publish-intents/{items[0]['id']}", headers=ALICE)
        assert one.status_code == 200
        assert_intent(one.json())
        await client.post(f"/v1/calendars/{cal}/export", headers=ALICE, json={"format": "csv"})
        after = await metrics_page(client)
    # §6: publish results by channel and outcome; publish and export latency.
    for channel in ("tiktok", "instagram"):
        assert metric(after, "postplan_publish_results_total", channel=channel,
                      outcome="dry_run") > metric(before, "postplan_publish_results_total",
                                                  channel=channel, outcome="dry_run")
    for endpoint in ("publish", "export"):
        name = "postplan_request_duration_seconds_count"
        assert metric(after, name, endpoint=endpoint) > metric(before, name, endpoint=endpoint)
    assert fake_channels.control.calls == []  # dry runs never reach a channel API


FORMAT_MEDIA: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("tiktok", "video"): [("clip.mp4", "video")],
    ("tiktok", "photo"): [("p1.jpg", "image"), ("p2.jpg", "image")],
    ("instagram", "reel"): [("reel.mp4", "video")],
    ("instagram", "carousel"): [("c1.jpg", "image"), ("c2.jpg", "image")],
    ("instagram", "image"): [("one.jpg", "image")],
    ("instagram", "story"): [("story.jpg", "image")],
}


async def test_s2_every_channel_format_publishes_live_through_the_fake(
    settings_factory: SettingsFactory, fake_channels: FakeChannelsServer
) -> None:
    fake = fake_channels
    settings = settings_factory(**ON, **fake_env(fake.url))
    async with served(settings) as (_app, client):
        events = await generate(client, brief(days=14), ALICE)
        cal = events[0].data["calendarId"]
        pool = [e.data["entry"] for e in of(events, "entry")]
        chosen: dict[str, tuple[str, str]] = {}
        for (channel, fmt), media in FORMAT_MEDIA.items():
            entry = next(e for e in pool if e["channel"] == channel and e["id"] not in chosen)
            resp = await client.patch(
                f"/v1/calendars/{cal}/entries/{entry['id']}",
                headers={**ALICE, "If-Match": str(entry["version"])},
                json={"format": fmt, "caption": f"{channel} {fmt} {entry['id'][:8]}",
                      "media": [{"url": f"{fake.url}/media/{name}", "type": kind}
                                for name, kind in media],
                      **({"channelOptions": {"tiktok": {  # TikTok's required choices
                          "privacyLevel": "SELF_ONLY", "musicUsageConfirmed": True}}}
                         if channel == "tiktok" else {})})
            assert resp.status_code == 200, resp.text
            chosen[entry["id"]] = (channel, fmt)
        await connect_both(client, fake)
        before = await metrics_page(client)
        live = await client.post(f"/v1/calendars/{cal}/publish", headers=ALICE,
                                 json={"dryRun": False, "when": "now", "entryIds": list(chosen)})
        assert live.status_code == 200, live.text
        assert live.json()["summary"]["queued"] == len(FORMAT_MEDIA)
        engine = create_engine(settings.database_url)
        gateway = RegistryGateway(settings)
        worker = Worker(engine, settings, FlagService(settings), gateway,
                        config=WorkerConfig(idle_sleep=0.05, poll_delays=(0.2,)))

        async def settled() -> bool:
            items = (await client.get("/v1/publish-intents", headers=ALICE, params={
                "calendarId": cal, "limit": 50})).json()["items"]
            live_items = [i for i in items if not i["dryRun"]]
            return all(i["status"] in {"published", "failed", "unknown"} for i in live_items)

        try:
            async with worker.running():
                assert await wait_for(settled, within=90, step=0.25)
        finally:
            await gateway.aclose()
            await engine.dispose()
        items = (await client.get("/v1/publish-intents", headers=ALICE,
                                  params={"calendarId": cal, "limit": 50})).json()["items"]
        after = await metrics_page(client)
    for channel, n in (("tiktok", 2), ("instagram", 4)):
        name = "postplan_publish_results_total"
        assert metric(after, name, channel=channel, outcome="published") == \
            metric(before, name, channel=channel, outcome="published") + n
    outcome = {chosen[i["entryId"]]: (i["status"], i["error"]) for i in items if not i["dryRun"]}
    assert {k: v[0] for k, v in outcome.items()} == dict.fromkeys(FORMAT_MEDIA, "published"), \
        outcome
    assert len(fake.control.live_posts()) == len(FORMAT_MEDIA)
    assert fake.control.duplicates() == {}


async def test_s2_s4_platform_failures_are_recorded_per_intent(
    settings_factory: SettingsFactory, fake_channels: FakeChannelsServer, tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    fake = fake_channels
    capfd.readouterr()
    settings = settings_factory(**ON, **fake_env(fake.url))
    async with served(settings) as (_app, client):
        cal, picked = await calendar_with_media(client, fake.url, days=3)
        tiktok, instagram = picked
        resp = await client.patch(f"/v1/calendars/{cal}/entries/{tiktok['id']}", headers={
            **ALICE, "If-Match": str(tiktok["version"])},
            json={"caption": "this one will fail:spam_risk_text"})
        assert resp.status_code == 200
        accounts = {c: fake.control.add_account(c) for c in ("tiktok", "instagram")}
        for channel, acct in accounts.items():
            await client.put(f"/v1/channels/{channel}/connection", headers=ALICE,
                             json={"accessToken": acct.token, "accountId": acct.account_id})
        fake.control.revoke(accounts["instagram"].token)
        live = await client.post(f"/v1/calendars/{cal}/publish", headers=ALICE, json={
            "dryRun": False, "when": "now", "entryIds": [tiktok["id"], instagram["id"]]})
        assert live.status_code == 200, live.text
        ids = {r["channel"]: r["intentId"] for r in live.json()["results"]}
        engine = create_engine(settings.database_url)
        gateway = RegistryGateway(settings)
        worker = Worker(engine, settings, FlagService(settings), gateway,
                        config=WorkerConfig(idle_sleep=0.05, poll_delays=(0.2,)))

        async def intent(channel: str) -> dict[str, Any]:
            got: dict[str, Any] = (await client.get(f"/v1/publish-intents/{ids[channel]}",
                                                    headers=ALICE)).json()
            return got

        async def settled() -> bool:
            return bool((await intent("tiktok"))["status"] == "failed"
                        and (await intent("instagram"))["status"] == "needs_reauth")

        try:
            async with worker.running():
                assert await wait_for(settled, within=60, step=0.2), \
                    [await intent("tiktok"), await intent("instagram")]
        finally:
            await gateway.aclose()
            await engine.dispose()
        failed = await intent("tiktok")
        assert_intent(failed)
        assert {"code", "message", "platformCode"} <= set(failed["error"])
        assert failed["attemptLog"]
        reauth = await intent("instagram")
        assert reauth["error"]["code"]
        assert fake.control.live_posts() == []
        # §6: the first publish failure after a deploy is an alert (replayed from the log).
        lines = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("{")]
        log_file = tmp_path / "server.log"
        log_file.write_text("\n".join(lines) + "\n")
        alerts = CliRunner().invoke(cli_app, ["alerts", "check", str(log_file)],
                                    env={"COLUMNS": "250"})
        assert alerts.exit_code == 1, alerts.output
        assert "FirstFailure" in alerts.output, alerts.output
        # The platform has refused this token: §4 says a live publish with invalid auth is a
        # 422 `channel_auth_invalid` before any attempt.
        again = await client.post(f"/v1/calendars/{cal}/publish", headers=ALICE, json={
            "dryRun": False, "when": "now", "channels": ["instagram"],
            "entryIds": [instagram["id"]]})
        body = assert_problem(again, 422, "channel_auth_invalid")
        assert body["channel"] == "instagram"


async def test_s2_concurrent_live_publishes_queue_each_entry_once(
    settings_factory: SettingsFactory, fake_channels: FakeChannelsServer
) -> None:
    fake = fake_channels
    settings = settings_factory(**ON, **fake_env(fake.url))
    async with served(settings) as (_app, client):
        cal, picked = await calendar_with_media(client, fake.url, days=2)
        await connect_both(client, fake)
        body = {"dryRun": False, "when": "scheduled", "entryIds": [p["id"] for p in picked]}
        answers = await asyncio.gather(*(
            client.post(f"/v1/calendars/{cal}/publish", headers=ALICE, json=body)
            for _ in range(4)))
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        summaries = [a.json()["summary"] for a in answers]
        assert sum(x["queued"] for x in summaries) == 2
        assert sum(x["skipped"] for x in summaries) == 6
        live = (await client.get("/v1/publish-intents", headers=ALICE, params={
            "calendarId": cal, "status": "pending"})).json()["items"]
        assert sorted(i["entryId"] for i in live) == sorted(p["id"] for p in picked)
    assert fake.control.calls == []  # queued for later: nothing sent yet


async def test_s4_a_refused_refresh_makes_the_next_live_publish_422(
    settings_factory: SettingsFactory, fake_channels: FakeChannelsServer
) -> None:
    fake = fake_channels
    settings = settings_factory(**ON, **fake_env(fake.url))
    async with served(settings) as (_app, client):
        cal, picked = await calendar_with_media(client, fake.url, days=3)
        tiktok = picked[0]
        acct = fake.control.add_account("tiktok")
        past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
        await client.put("/v1/channels/tiktok/connection", headers=ALICE, json={
            "accessToken": acct.token, "accountId": acct.account_id, "expiresAt": past,
            "refreshToken": "rft.not-known-to-the-platform"})
        live = await client.post(f"/v1/calendars/{cal}/publish", headers=ALICE, json={
            "dryRun": False, "when": "now", "entryIds": [tiktok["id"]]})
        assert live.status_code == 200, live.text  # expired but refreshable: accepted
        intent_id = live.json()["results"][0]["intentId"]
        engine = create_engine(settings.database_url)
        gateway = RegistryGateway(settings)
        worker = Worker(engine, settings, FlagService(settings), gateway,
                        config=WorkerConfig(idle_sleep=0.05, poll_delays=(0.2,)))

        async def reauth() -> bool:
            got = (await client.get(f"/v1/publish-intents/{intent_id}", headers=ALICE)).json()
            return bool(got["status"] == "needs_reauth")

        try:
            async with worker.running():
                assert await wait_for(reauth, within=30, step=0.2)
        finally:
            await gateway.aclose()
            await engine.dispose()
        conn = (await client.get("/v1/channels/tiktok/connection", headers=ALICE)).json()
        assert conn["connected"] is False
        again = await client.post(f"/v1/calendars/{cal}/publish", headers=ALICE, json={
            "dryRun": False, "when": "now", "entryIds": [tiktok["id"]]})
        assert assert_problem(again, 422, "channel_auth_invalid")["channel"] == "tiktok"
    assert fake.control.live_posts() == []


async def test_s4_channel_auth_missing_or_invalid_is_422_before_any_attempt(
    settings_factory: SettingsFactory, fake_channels: FakeChannelsServer, db_url: str
) -> None:
    settings = settings_factory(**ON, **fake_env(fake_channels.url))
    async with served(settings) as (_app, client):
        cal, picked = await calendar_with_media(client, fake_channels.url)
        live = {"dryRun": False, "when": "now", "entryIds": [p["id"] for p in picked]}
        missing = await client.post(f"/v1/calendars/{cal}/publish", json=live, headers=ALICE)
        body = assert_problem(missing, 422, "channel_auth_missing")
        assert body["channel"] in {"tiktok", "instagram"}
        past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
        for channel in ("tiktok", "instagram"):
            resp = await client.put(f"/v1/channels/{channel}/connection", headers=ALICE,
                                    json={"accessToken": "expired", "accountId": "a",
                                          "expiresAt": past})
            assert resp.status_code == 200
        invalid = await client.post(f"/v1/calendars/{cal}/publish", json=live, headers=ALICE)
        body = assert_problem(invalid, 422, "channel_auth_invalid")
        assert body["channel"] in {"tiktok", "instagram"}
    assert await query(db_url, "SELECT count(*) AS n FROM publish_intents") == [{"n": 0}]
    assert fake_channels.control.calls == []


async def test_s2_channel_connections(settings_factory: SettingsFactory, db_url: str) -> None:
    secret = "act.very-secret-access-token-0123456789"
    async with served(settings_factory(**ON)) as (_app, client):
        no_key = await client.put("/v1/channels/tiktok/connection", headers=ALICE,
                                  json={"accessToken": secret, "accountId": "open-1"})
        # A server without TOKEN_ENCRYPTION_KEY refuses to store tokens (a server-side gap,
        # so 503 rather than a client error; see docs/contract-notes.md).
        assert_problem(no_key, 503, "token_encryption_key_missing")
    async with served(settings_factory(**ON, TOKEN_ENCRYPTION_KEY="contract-key")) as (_a, client):
        url = "/v1/channels/instagram/connection"
        assert_problem(await client.get(url, headers=ALICE), 404)
        put = await client.put(url, headers=ALICE, json={
            "accessToken": secret, "refreshToken": "rft.also-secret-9876543210",
            "expiresAt": "2030-01-01T00:00:00+00:00", "accountId": "17841400000000001"})
        assert put.status_code == 200, put.text
        got = await client.get(url, headers=ALICE)
        for resp in (put, got):
            assert secret not in resp.text and "also-secret" not in resp.text
            assert resp.json()["accountId"] == "17841400000000001"
        rows = await query(db_url, "SELECT * FROM channel_connections")
        assert rows and secret not in json.dumps(rows, default=str)
        assert_problem(await client.put(url, headers=ALICE, json={"accountId": "x"}), 422)
        assert_problem(await client.put("/v1/channels/myspace/connection", headers=ALICE,
                                        json={"accessToken": "t", "accountId": "x"}), 404)
        assert (await client.delete(url, headers=ALICE)).status_code == 204
        assert_problem(await client.get(url, headers=ALICE), 404)
