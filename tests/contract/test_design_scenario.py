"""The realistic end-to-end scenario and the release smoke of the ops appendix (docs/contract.md
§2-§4)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from postplan.app import create_app
from postplan.cli import app as cli_app
from postplan.core.db import create_engine
from postplan.core.flags import FlagService
from postplan.publishing.gateway import RegistryGateway
from postplan.publishing.worker.context import WorkerConfig
from postplan.publishing.worker.loop import Worker
from tests.contract.helpers import (
    ALICE,
    ON,
    SettingsFactory,
    assert_intent,
    assert_page,
    assert_publish_response,
    brief,
    calendar_with_media,
    generate,
    served,
    wait_for,
)
from tests.fakes.channels_server import FakeChannelsServer
from tests.fakes.sse_client import of, query, table_counts
from tests.fixtures.apps import live_server
from tests.publishing.fake_gateway import fake_env

pytestmark = [pytest.mark.live, pytest.mark.timeout(180)]


# -- the realistic scenario ---------------------------------------------------------------------


def _unfold(ics: str) -> str:
    return ics.replace("\r\n ", "").replace("\n ", "")


async def test_scenario_plan_edit_export_publish_live(
    settings_factory: SettingsFactory, fake_channels: FakeChannelsServer, db_url: str,
    tmp_path: Path, capfd: pytest.CaptureFixture[str],
) -> None:
    fake = fake_channels
    capfd.readouterr()
    settings = settings_factory(**ON, **fake_env(fake.url), WORKER_POLL_SECONDS=0.1)
    app = create_app(settings, migrate=False, run_worker=True)  # `serve`: worker in-process
    with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            # 1. generate a 14-day TikTok + Instagram calendar (planner mode)
            events = await generate(client, brief(days=14), ALICE)
            assert events[0].data["mode"] == "planner"
            assert events[-1].data["status"] == "completed"
            cal = events[0].data["calendarId"]
            # 2. read it
            calendar = (await client.get(f"/v1/calendars/{cal}", headers=ALICE)).json()
            assert len(calendar["entries"]) == len(of(events, "entry"))
            assert {e["channel"] for e in calendar["entries"]} == {"tiktok", "instagram"}
            # 3. edit one entry per channel (If-Match), attaching media from the fake host
            targets = [next(e for e in calendar["entries"] if e["channel"] == c)
                       for c in ("tiktok", "instagram")]
            edited: list[dict[str, Any]] = []
            for n, entry in enumerate(targets):
                marker = f"Contract edit {n} {entry['id'][:8]}"
                fmt, kind, name = (("video", "video", "clip.mp4") if entry["channel"] == "tiktok"
                                   else ("image", "image", "photo.jpg"))
                resp = await client.patch(
                    f"/v1/calendars/{cal}/entries/{entry['id']}",
                    headers={**ALICE, "If-Match": str(entry["version"])},
                    json={"hook": marker, "caption": marker, "format": fmt,
                          "media": [{"url": f"{fake.url}/media/{name}", "type": kind}],
                          **({"channelOptions": {"tiktok": {  # TikTok's required choices
                              "privacyLevel": "SELF_ONLY", "musicUsageConfirmed": True}}}
                             if entry["channel"] == "tiktok" else {})})
                assert resp.status_code == 200, resp.text
                edited.append(resp.json())
            # 4. ICS export shows the edit
            ics = await client.post(f"/v1/calendars/{cal}/export", headers=ALICE,
                                    json={"format": "ics", "dryRun": False})
            assert ics.status_code == 200
            for entry in edited:
                assert entry["hook"] in _unfold(ics.text)
            for fmt in ("csv", "json"):
                exported = await client.post(f"/v1/calendars/{cal}/export", headers=ALICE,
                                             json={"format": fmt, "dryRun": False})
                for entry in edited:
                    assert entry["caption"] in exported.text, fmt
            # 5. dry-run publish: one result per entry, nothing sent
            dry = await client.post(f"/v1/calendars/{cal}/publish", headers=ALICE,
                                    json={"dryRun": True, "when": "now"})
            assert dry.status_code in (200, 207)
            assert_publish_response(dry.json())
            assert {r["entryId"] for r in dry.json()["results"]} == \
                {e["id"] for e in calendar["entries"]}
            assert fake.control.calls == []
            # 6. connect both channels against the fake platform
            accounts = {c: fake.control.add_account(c) for c in ("tiktok", "instagram")}
            for channel, acct in accounts.items():
                resp = await client.put(f"/v1/channels/{channel}/connection", headers=ALICE,
                                        json={"accessToken": acct.token,
                                              "accountId": acct.account_id})
                assert resp.status_code == 200, resp.text
                assert acct.token not in resp.text
            # 7. live publish now
            live = await client.post(
                f"/v1/calendars/{cal}/publish",
                headers={**ALICE, "Idempotency-Key": "scenario-live-1"},
                json={"dryRun": False, "when": "now", "entryIds": [e["id"] for e in edited]})
            assert live.status_code == 200, live.text
            body = live.json()
            assert_publish_response(body)
            assert body["dryRun"] is False
            assert body["summary"]["queued"] == 2 and body["summary"]["failed"] == 0
            ids = [r["intentId"] for r in body["results"]]

            # 8. the in-process worker drives them to `published`
            async def all_published() -> bool:
                got = [(await client.get(f"/v1/publish-intents/{i}", headers=ALICE)).json()
                       for i in ids]
                return all(g["status"] == "published" for g in got)

            # A second worker (its own engine and gateway) competes for the same intents:
            # claims use SKIP LOCKED, so nothing is posted twice.
            engine = create_engine(settings.database_url)
            gateway = RegistryGateway(settings)
            second = Worker(engine, settings, FlagService(settings), gateway,
                            config=WorkerConfig(idle_sleep=0.05))
            try:
                async with second.running():
                    settled = await wait_for(all_published, within=90, step=0.25)
            finally:
                await gateway.aclose()
                await engine.dispose()
            assert settled, [
                (await client.get(f"/v1/publish-intents/{i}", headers=ALICE)).json()
                for i in ids]
            # 9. the publish-intents list shows the attempts
            listed = (await client.get("/v1/publish-intents", headers=ALICE,
                                       params={"calendarId": cal, "status": "published"})).json()
            items = assert_page(listed)
            assert {i["id"] for i in items} == set(ids)
            for intent in items:
                assert_intent(intent)
                assert intent["attempts"] >= 1
                if intent["channel"] == "instagram":  # TikTok has no id for SELF_ONLY posts
                    assert intent["platformPostId"]
            detail = (await client.get(f"/v1/publish-intents/{ids[0]}", headers=ALICE)).json()
            assert detail.get("attemptLog")
            # `when: scheduled` queues for the entry's own time (nothing sent now).
            later = next(e for e in calendar["entries"]
                         if e["channel"] == "instagram" and e["id"] != edited[1]["id"])
            resp = await client.patch(
                f"/v1/calendars/{cal}/entries/{later['id']}",
                headers={**ALICE, "If-Match": str(later["version"])},
                json={"format": "image", "media": [{"url": f"{fake.url}/media/later.jpg",
                                                    "type": "image"}]})
            assert resp.status_code == 200, resp.text
            scheduled = await client.post(f"/v1/calendars/{cal}/publish", headers=ALICE, json={
                "dryRun": False, "when": "scheduled", "entryIds": [later["id"]]})
            assert scheduled.status_code == 200, scheduled.text
            (queued,) = scheduled.json()["results"]
            assert queued["status"] == "pending"
            intent = (await client.get(f"/v1/publish-intents/{queued['intentId']}",
                                       headers=ALICE)).json()
            assert intent["status"] == "pending"
            assert dt.datetime.fromisoformat(intent["runAfter"]) == \
                dt.datetime.fromisoformat(later["scheduledAt"])
            # a retried live publish with the same key is the same answer, not a second post
            again = await client.post(
                f"/v1/calendars/{cal}/publish",
                headers={**ALICE, "Idempotency-Key": "scenario-live-1"},
                json={"dryRun": False, "when": "now", "entryIds": [e["id"] for e in edited]})
            assert again.json() == body
    published = await query(db_url, "SELECT count(*) AS n FROM publish_intents "
                                    "WHERE status = 'published'")
    assert len(fake.control.live_posts()) == published[0]["n"] == 2
    assert fake.control.duplicates() == {}
    captions = " ".join(p.caption for p in fake.control.live_posts())
    for entry in edited:
        assert entry["caption"] in captions  # the edit is what was published
    # §6: the whole scenario's log passes the strict log contract check.
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    assert not any(acct.token in line for acct in accounts.values() for line in lines)
    log_file = tmp_path / "scenario.log"
    log_file.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli_app, ["logs", "check", "--strict", str(log_file)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output


# -- the ops appendix release smoke ------------------------------------------------------------


async def test_release_smoke_flags_off_is_deterministic_and_offline(
    settings_factory: SettingsFactory, fake_channels: FakeChannelsServer, db_url: str
) -> None:
    fake = fake_channels
    # A calendar saved earlier (while the calendar service was on) and a connected account.
    async with served(settings_factory(**ON, **fake_env(fake.url))) as (_app, client):
        cal, _picked = await calendar_with_media(client, fake.url, days=7)
        acct = fake.control.add_account("tiktok")
        await client.put("/v1/channels/tiktok/connection", headers=ALICE,
                         json={"accessToken": acct.token, "accountId": acct.account_id})
    calls_before = len(fake.control.calls)
    # Ship flags off.
    async with served(settings_factory(**fake_env(fake.url))) as (_app, client):
        counts = await table_counts(db_url)
        streams = [await generate(client, brief(days=7, startDate="2030-01-07"), ALICE)
                   for _ in range(2)]
        assert streams[0][0].data["mode"] == "legacy"
        assert streams[0][0].data["dryRun"] is True
        assert [(e.event, e.data, e.id) for e in streams[0]] == \
            [(e.event, e.data, e.id) for e in streams[1]]
        assert await table_counts(db_url) == counts
        for fmt in ("json", "csv", "ics"):
            answers = [await client.post(f"/v1/calendars/{cal}/export", headers=ALICE,
                                         json={"format": fmt, "dryRun": False})
                       for _ in range(2)]
            assert answers[0].status_code == answers[1].status_code == 200
            assert answers[0].json()["dryRun"] is True
            assert answers[0].json() == answers[1].json()
        publishes = [await client.post(f"/v1/calendars/{cal}/publish", headers=ALICE,
                                       json={"dryRun": False, "when": "now"})
                     for _ in range(2)]
        assert publishes[0].status_code == publishes[1].status_code
        assert publishes[0].json()["dryRun"] is True
        assert_publish_response(publishes[0].json())
        assert publishes[0].json() == publishes[1].json()
        # The shipped smoke command agrees.
        result = await asyncio.to_thread(
            CliRunner().invoke, cli_app,
            ["smoke", "--base-url", str(client.base_url), "--user-id", "alice",
             "--calendar-id", cal])
        assert result.exit_code == 0, result.output
    assert len(fake.control.calls) == calls_before == 0
    live = await query(db_url, "SELECT count(*) AS n FROM publish_intents WHERE dry_run = :f",
                       f=False)
    assert live == [{"n": 0}]
