"""docs/contract.md §4 flags and failure rules, §5 tables, §6 logs/metrics/alerts, §7 commands and
configuration."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from postplan.cli import app as cli_app
from postplan.cli.flags import boolean_flag, rollout_flag, write_document
from postplan.config import Settings
from postplan.core.context import REQUIRED_LOG_FIELDS
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
    TcpProxy,
    assert_entry,
    assert_problem,
    brief,
    calendar_with_media,
    cli_env,
    connect_both,
    generate,
    metric,
    run_process,
    served,
    start_process,
    wait_for,
    wait_for_line,
)
from tests.fakes.channels_server import FakeChannelsServer
from tests.fakes.llm_server import closed_port_url, fake_llm
from tests.fakes.sse_client import of, table_counts
from tests.fixtures.apps import free_port
from tests.fixtures.databases import truncate_pg
from tests.publishing.fake_gateway import fake_env

pytestmark = [pytest.mark.live, pytest.mark.timeout(180)]


# -- §4 flags -----------------------------------------------------------------------------------


async def test_s4_unset_flags_are_off_legacy_stream_writes_nothing(
    settings_factory: SettingsFactory, db_url: str
) -> None:
    with fake_llm() as (fake, base_url):
        async with served(settings_factory(LLM_BASE_URL=base_url)) as (_app, client):
            first = await generate(client, brief(days=5, startDate="2030-03-04"), ALICE)
            second = await generate(client, brief(days=5, startDate="2030-03-04"), ALICE)
            flags = (await client.get("/v1/flags", headers=ALICE)).json()
        assert fake.calls == 0  # no AI call, even with a model configured
    run = first[0].data
    assert run["mode"] == "legacy" and run["dryRun"] is True
    assert [(e.event, e.data) for e in first if e.event in {"entry", "done"}] == \
        [(e.event, e.data) for e in second if e.event in {"entry", "done"}]
    assert of(first, "entry")
    for e in of(first, "entry"):
        assert_entry(e.data["entry"])
    assert first[-1].data["status"] == "completed"
    assert flags["flags"]["CALENDAR_SERVICE_ENABLED"]["enabled"] is False
    assert flags["flags"]["PUBLISH_SERVICE_ENABLED"]["enabled"] is False
    assert set((await table_counts(db_url)).values()) == {0}


async def test_s4_flags_file_targets_users_and_is_reread_while_running(
    settings_factory: SettingsFactory, tmp_path: Path
) -> None:
    flags_file = tmp_path / "flags.json"
    write_document(flags_file, {"flags": {"CALENDAR_SERVICE_ENABLED": rollout_flag(0, ["alice"])}})
    settings = settings_factory(FLAGS_FILE=str(flags_file), FLAGS_POLL_SECONDS=0.1)
    async with served(settings) as (_app, client):
        async def mode(headers: dict[str, str]) -> str:
            events = await generate(client, brief(days=1), headers)
            return str(events[0].data["mode"])

        assert await mode(ALICE) == "planner"
        assert await mode(BOB) == "legacy"
        # Rollback: flip the file off; it takes effect without a restart.
        write_document(flags_file, {"flags": {
            "CALENDAR_SERVICE_ENABLED": boolean_flag(False)}})

        async def rolled_back() -> bool:
            return await mode(ALICE) == "legacy"

        assert await wait_for(rolled_back, within=10, step=0.2)


async def test_s4_sticky_percentage_rollout(settings_factory: SettingsFactory,
                                            tmp_path: Path) -> None:
    flags_file = tmp_path / "flags.json"
    write_document(flags_file, {"flags": {"PUBLISH_SERVICE_ENABLED": rollout_flag(30, [])}})
    settings = settings_factory(FLAGS_FILE=str(flags_file))
    users = [f"user-{n}" for n in range(60)]
    async with served(settings) as (_app, client):
        async def on_for(user: str) -> bool:
            body = (await client.get("/v1/flags", headers={"X-User-Id": user})).json()
            return bool(body["flags"]["PUBLISH_SERVICE_ENABLED"]["enabled"])

        first = [await on_for(u) for u in users]
        again = [await on_for(u) for u in users]
        assert first == again  # sticky
        assert 0 < sum(first) < len(users)
        # Raising the percentage keeps everyone already in.
        write_document(flags_file, {"flags": {"PUBLISH_SERVICE_ENABLED": rollout_flag(60, [])}})

        async def widened() -> bool:
            now = [await on_for(u) for u in users]
            return sum(now) > sum(first) and all(n for n, f in zip(now, first, strict=True) if f)

        assert await wait_for(widened, within=10, step=0.3)


async def test_s4_rollback_publish_flag_off_stops_the_worker_sending(
    settings_factory: SettingsFactory, fake_channels: FakeChannelsServer, tmp_path: Path
) -> None:
    fake = fake_channels
    flags_file = tmp_path / "flags.json"
    write_document(flags_file, {"flags": {"CALENDAR_SERVICE_ENABLED": boolean_flag(True),
                                          "PUBLISH_SERVICE_ENABLED": boolean_flag(True)}})
    settings = settings_factory(FLAGS_FILE=str(flags_file), FLAGS_POLL_SECONDS=0.1,
                                **fake_env(fake.url))
    async with served(settings) as (_app, client):
        cal, picked = await calendar_with_media(client, fake.url, days=2)
        await connect_both(client, fake)
        live = await client.post(f"/v1/calendars/{cal}/publish", headers=ALICE, json={
            "dryRun": False, "when": "now", "entryIds": [p["id"] for p in picked]})
        assert live.status_code == 200 and live.json()["summary"]["queued"] == 2
        # Rollback step 1, with the shipped command: PUBLISH_SERVICE_ENABLED off, data kept.
        flip = await asyncio.to_thread(
            CliRunner().invoke, cli_app,
            ["flags", "set", "PUBLISH_SERVICE_ENABLED", "off", "--file", str(flags_file)])
        assert flip.exit_code == 0, flip.output

        async def publish_off() -> bool:
            flags = (await client.get("/v1/flags", headers=ALICE)).json()["flags"]
            return flags["PUBLISH_SERVICE_ENABLED"]["enabled"] is False

        assert await wait_for(publish_off, within=10)
        engine = create_engine(settings.database_url)
        gateway = RegistryGateway(settings)
        try:
            worker = Worker(engine, settings, FlagService(settings), gateway,
                            config=WorkerConfig(idle_sleep=0.05, flag_off_delay=0.1))
            await worker.run_once()
            # Nothing sent while the flag is off (the publish call itself only read TikTok's
            # creator_info, as TikTok asks before a post).
            assert [c for c in fake.control.calls if "creator_info" not in c[1]] == []
            again = await client.post(f"/v1/calendars/{cal}/publish", headers=ALICE, json={
                "dryRun": False, "when": "now", "entryIds": [p["id"] for p in picked]})
            assert again.json()["dryRun"] is True
            listed = (await client.get("/v1/publish-intents", headers=ALICE, params={
                "calendarId": cal, "status": "pending"})).json()["items"]
            assert len(listed) == 2  # kept, not cancelled or lost
            # Restore the flag when healthy: the kept intents go out.
            restore = await asyncio.to_thread(
                CliRunner().invoke, cli_app,
                ["flags", "set", "PUBLISH_SERVICE_ENABLED", "on", "--file", str(flags_file)])
            assert restore.exit_code == 0, restore.output
            worker = Worker(engine, settings, FlagService(settings), gateway,
                            config=WorkerConfig(idle_sleep=0.05, poll_delays=(0.2,)))

            async def published() -> bool:
                items = (await client.get("/v1/publish-intents", headers=ALICE, params={
                    "calendarId": cal, "status": "published"})).json()["items"]
                return len(items) == 2

            async with worker.running():
                assert await wait_for(published, within=60, step=0.2)
        finally:
            await gateway.aclose()
            await engine.dispose()
    assert len(fake.control.live_posts()) == 2


async def test_s4_database_unreachable_generation_still_streams_as_dry_run(
    tmp_path: Path,
) -> None:
    port = closed_port_url().rsplit(":", 1)[1]
    settings = Settings(_env_file=None, DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:"
                        f"{port}/none", CALENDAR_SERVICE_ENABLED=True, WORKER_ENABLED=False,
                        SPOOL_DIR=str(tmp_path / "spool"))
    async with served(settings) as (_app, client):
        assert (await client.get("/readyz")).status_code == 503
        events = await generate(client, brief(days=2), ALICE)
        publish = await client.post(
            "/v1/calendars/00000000-0000-0000-0000-0000000000aa/publish", headers=ALICE,
            json={"dryRun": True})
    assert events[0].data["dryRun"] is True
    assert of(events, "entry")
    for event in of(events, "entry"):
        assert_entry(event.data["entry"])
    assert events[-1].event == "done"
    # The publish is spooled locally (fsync'd) to be written once the database is back.
    assert publish.status_code == 202, publish.text
    assert publish.json()["status"] == "queued"
    assert any((tmp_path / "spool").rglob("*"))


@pytest.mark.postgres
async def test_s4_database_down_publish_is_spooled_then_written_once(
    pg_database: str, tmp_path: Path
) -> None:
    """Postgres behind a proxy that goes away and comes back (the appendix's "Supabase down")."""
    url = pg_database
    await asyncio.to_thread(truncate_pg, url)
    port = int(re.search(r":(\d+)/", url).group(1))  # type: ignore[union-attr]
    proxy = TcpProxy(port)
    proxy.up()
    proxied = re.sub(r":\d+/", f":{proxy.port}/", url, count=1)
    settings = Settings(_env_file=None, DATABASE_URL=proxied, CALENDAR_SERVICE_ENABLED=True,
                        WORKER_ENABLED=False, WORKER_POLL_SECONDS=0.2,
                        SPOOL_DIR=str(tmp_path / "spool"))
    try:
        async with served(settings) as (_app, client):
            events = await generate(client, brief(days=3), ALICE)
            cal = events[0].data["calendarId"]
            count = len(of(events, "entry"))
            proxy.down()
            key = {**ALICE, "Idempotency-Key": "while-down-1"}
            down = await client.post(f"/v1/calendars/{cal}/publish", headers=key,
                                     json={"dryRun": True})
            assert down.status_code == 202, down.text
            again = await client.post(f"/v1/calendars/{cal}/publish", headers=key,
                                      json={"dryRun": True})
            assert again.status_code == 202
            during = await generate(client, brief(days=2), ALICE)
            assert during[0].data["dryRun"] is True  # generation still streams
            proxy.up()

            async def drained() -> bool:
                try:
                    resp = await client.get("/v1/publish-intents", headers=ALICE,
                                            params={"calendarId": cal})
                except httpx.TransportError:
                    return False
                return resp.status_code == 200 and len(resp.json()["items"]) >= count

            assert await wait_for(drained, within=30, step=0.3)

            async def spool_empty() -> bool:
                checks = (await client.get("/readyz")).json()["checks"]
                return bool(checks["spool"]["depth"] == 0)

            assert await wait_for(spool_empty, within=30, step=0.3)  # both records applied
            items = (await client.get("/v1/publish-intents", headers=ALICE,
                                      params={"calendarId": cal})).json()["items"]
        assert len(items) == count  # nothing lost, nothing duplicated
        assert {i["entryId"] for i in items} == {e.data["entry"]["id"] for e in of(events,
                                                                                   "entry")}
    finally:
        proxy.close()


# -- §5 tables -----------------------------------------------------------------------------------


async def test_s5_tables_and_additive_migrations(db_url: str) -> None:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            def columns(sync_conn: Any) -> dict[str, set[str]]:
                insp = inspect(sync_conn)
                return {t: {c["name"] for c in insp.get_columns(t)}
                        for t in insp.get_table_names()}

            tables = await conn.run_sync(columns)
    finally:
        await engine.dispose()
    for name in ("calendar_runs", "calendar_entries"):
        assert {"id", "calendar_id", "user_id", "created_at"} <= tables[name], name
    assert {"id", "calendar_id", "run_id", "user_id", "channel", "payload", "status", "error",
            "created_at"} <= tables["publish_intents"]
    versions = Path(__file__).parents[2] / "postplan" / "migrations" / "versions"
    for script in versions.glob("*.py"):
        upgrade = script.read_text().split("def downgrade", 1)[0]
        assert "drop_table" not in upgrade and "drop_column" not in upgrade, script.name


# -- §6 logs --------------------------------------------------------------------------------------


async def test_s6_every_log_line_carries_the_six_fields(
    settings_factory: SettingsFactory, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    async with served(settings_factory(**ON)) as (_app, client):
        events = await generate(client, brief(days=2), ALICE)
        cal = events[0].data["calendarId"]
        await client.post(f"/v1/calendars/{cal}/publish", json={}, headers=ALICE)
        await client.post(f"/v1/calendars/{cal}/export", json={"format": "csv"}, headers=ALICE)
    lines = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert lines
    for line in lines:
        record = json.loads(line)  # every line is one JSON object
        assert set(REQUIRED_LOG_FIELDS) <= set(record), record
    assert set(REQUIRED_LOG_FIELDS) == {"requestId", "userId", "channel", "calendarId", "runId",
                                        "status"}
    log_file = tmp_path / "server.log"
    log_file.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli_app, ["logs", "check", str(log_file)])
    assert result.exit_code == 0, result.output


async def test_s6_auth_missing_is_an_alert_in_metrics_and_logs(
    settings_factory: SettingsFactory, fake_channels: FakeChannelsServer, tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    settings = settings_factory(**ON, **fake_env(fake_channels.url))
    async with served(settings) as (_app, client):
        before = (await client.get("/metrics")).text
        cal, picked = await calendar_with_media(client, fake_channels.url, days=2)
        capfd.readouterr()
        resp = await client.post(f"/v1/calendars/{cal}/publish", headers=ALICE, json={
            "dryRun": False, "entryIds": [p["id"] for p in picked]})
        assert_problem(resp, 422, "channel_auth_missing")
        after = (await client.get("/metrics")).text
    assert metric(after, "postplan_adapter_auth_missing_total", reason="missing") > \
        metric(before, "postplan_adapter_auth_missing_total", reason="missing")
    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    log_file = tmp_path / "server.log"
    log_file.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli_app, ["alerts", "check", str(log_file)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "auth" in result.output.lower()


def test_s5_supabase_copy_has_row_level_security() -> None:
    sql = "\n".join(p.read_text() for p in
                    (Path(__file__).parents[2] / "supabase" / "migrations").glob("*.sql"))
    for table in ("calendar_runs", "calendar_entries", "publish_intents", "channel_connections"):
        assert f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY" in sql, table
    assert "auth.uid()" in sql


def test_s6_alert_rules_exist() -> None:
    rules = (Path(__file__).parents[2] / "deploy" / "prometheus" / "alerts.yml").read_text()
    assert "postplan_sse_streams_total" in rules
    assert "postplan_publish_results_total" in rules or "publish" in rules
    assert "postplan_adapter_auth_missing_total" in rules


# -- §7 commands and configuration ----------------------------------------------------------------


def test_s7_commands_exist() -> None:
    runner = CliRunner()
    env = {"COLUMNS": "200"}
    top = runner.invoke(cli_app, ["--help"], env=env)
    assert top.exit_code == 0
    for command in ("serve", "migrate", "worker", "generate", "smoke", "logs", "alerts", "flags"):
        assert re.search(rf"│ {command}\b", top.output), command
    wanted = {("serve",): ["--host", "--port"], ("generate",): ["--brief"],
              ("smoke",): ["--base-url"], ("logs", "check"): [], ("alerts", "check"): [],
              ("flags",): [], ("migrate",): [], ("worker",): []}
    for args, options in wanted.items():
        result = runner.invoke(cli_app, [*args, "--help"], env=env)
        assert result.exit_code == 0, (args, result.output)
        for option in options:
            assert option in result.output, (args, option)
    serve_help = runner.invoke(cli_app, ["serve", "--help"], env=env).output
    assert "127.0.0.1" in serve_help and "8000" in serve_help


async def test_s7_serve_migrate_generate_worker_run_for_real(tmp_path: Path) -> None:
    brief_file = tmp_path / "brief.json"
    body = brief(days=2)
    brief_file.write_text(json.dumps(body))
    env = cli_env(tmp_path, CALENDAR_SERVICE_ENABLED="true")
    cli = [sys.executable, "-m", "postplan.cli"]
    migrate = await asyncio.to_thread(run_process, [*cli, "migrate"], env, tmp_path)
    assert migrate.returncode == 0, migrate.stderr
    generated = await asyncio.to_thread(
        run_process, [*cli, "generate", "--brief", str(brief_file), "--json"], env, tmp_path)
    assert generated.returncode == 0, generated.stderr
    # The planner no longer pastes the brand into every post (brand tag on some days, brand in
    # goal CTAs), so check the calendar is this brief's by its slots, not by the brand's name.
    result = json.loads(generated.stdout)
    entries = result["entries"]
    assert result["done"]["status"] == "completed"
    assert result["done"]["entryCount"] == len(entries) == result["run"]["expectedEntries"] > 0
    first = dt.date.fromisoformat(body["startDate"])
    days = {first + dt.timedelta(days=n) for n in range(2)}
    for entry in entries:
        assert entry["channel"] in body["channels"] and entry["timezone"] == body["timezone"]
        assert dt.datetime.fromisoformat(entry["scheduledAt"]).date() in days
        assert entry["hook"] and entry["caption"] and entry["hashtags"]
    # `serve` on a fresh SQLite file migrates it itself and runs the worker in-process.
    port = free_port()
    (tmp_path / "fresh").mkdir()
    log_file = tmp_path / "serve.log"
    serve_env = cli_env(tmp_path / "fresh", CALENDAR_SERVICE_ENABLED="true",
                        LOG_FILE=str(log_file))
    proc = await asyncio.to_thread(
        start_process, [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)], serve_env,
        tmp_path)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            assert await wait_for(ready, within=30, step=0.2)
            events = await generate(client, brief(days=2))
            assert events[0].data["mode"] == "planner"
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.communicate, None, 30)
    served_log = log_file.read_text()
    assert re.search(r'"worker": ?true', served_log), served_log[-2000:]
    # LOG_FILE holds the JSON lines, and they pass the shipped log contract check.
    checked = CliRunner().invoke(cli_app, ["logs", "check", "--strict", str(log_file)],
                                 env={"COLUMNS": "200"})
    assert checked.exit_code == 0, checked.output
    worker = await asyncio.to_thread(start_process, [*cli, "worker"], env, tmp_path)
    assert await asyncio.to_thread(wait_for_line, worker, "worker.started")
    assert worker.poll() is None  # it runs until told to stop
    worker.terminate()
    assert await asyncio.to_thread(worker.wait, 30) == 0


def test_s7_environment_names() -> None:
    names = {f.alias for f in Settings.model_fields.values()}
    for name in ("DATABASE_URL", "AUTH_MODE", "SUPABASE_JWT_SECRET", "SUPABASE_JWKS_URL",
                 "CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED", "FLAGS_FILE",
                 "LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL", "AI_TIMEOUT_SECONDS",
                 "TIKTOK_API_BASE", "TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET",
                 "INSTAGRAM_API_BASE", "INSTAGRAM_APP_ID", "INSTAGRAM_APP_SECRET",
                 "TOKEN_ENCRYPTION_KEY", "LOG_LEVEL", "LOG_FILE", "INSTAGRAM_API_VERSION"):
        assert name in names, name
    defaults = Settings(_env_file=None)
    assert defaults.tiktok_api_base == "https://open.tiktokapis.com"
    assert defaults.instagram_api_base == "https://graph.instagram.com"
    assert defaults.database_url.startswith("sqlite")
    assert defaults.auth_mode.value == "dev"
    assert not defaults.calendar_service_enabled and not defaults.publish_service_enabled
