"""`postplan flags show|set|rollout`: atomic, validated edits a running server picks up."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from postplan.cli import app
from postplan.config import Settings
from postplan.core.flags import Flag, FlagService
from tests.fixtures.apps import build_app, live_server, make_settings
from tests.fixtures.databases import sqlite_url

runner = CliRunner()


def service(path: Path) -> FlagService:
    return FlagService(make_settings("sqlite+aiosqlite:///unused.db", FLAGS_FILE=str(path)))


def test_set_creates_a_valid_file_and_show_prints_it(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    result = runner.invoke(app, ["flags", "set", "PUBLISH_SERVICE_ENABLED", "on"],
                           env={"FLAGS_FILE": str(path)})
    assert result.exit_code == 0, result.output
    doc = json.loads(path.read_text())
    assert doc["flags"]["PUBLISH_SERVICE_ENABLED"]["defaultVariant"] == "on"
    assert service(path).is_enabled(Flag.publish_service, "anyone")
    assert [p.name for p in tmp_path.iterdir()] == ["flags.json"]  # no temp file left

    shown = runner.invoke(app, ["flags", "show", "--file", str(path), "--user", "anyone"])
    assert shown.exit_code == 0, shown.output
    assert "on for everyone" in shown.output
    assert "ON" in shown.output

    off = runner.invoke(app, ["flags", "set", "publish", "off", "--file", str(path)])
    assert off.exit_code == 0, off.output
    assert not service(path).is_enabled(Flag.publish_service, "anyone")


def test_rollout_allowlist_then_percentage(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"flags": {}, "metadata": {"owner": "ops"}}))
    os.chmod(path, 0o640)
    result = runner.invoke(app, ["flags", "rollout", "PUBLISH_SERVICE_ENABLED",
                                 "--allow", "alice,bob"], env={"FLAGS_FILE": str(path)})
    assert result.exit_code == 0, result.output
    flags = service(path)
    assert flags.is_enabled(Flag.publish_service, "alice")
    assert not flags.is_enabled(Flag.publish_service, "carol")
    assert json.loads(path.read_text())["metadata"] == {"owner": "ops"}  # other keys kept
    assert path.stat().st_mode & 0o777 == 0o640  # permissions kept

    result = runner.invoke(app, ["flags", "rollout", "PUBLISH_SERVICE_ENABLED", "--percent",
                                 "10", "--allow", "alice"], env={"FLAGS_FILE": str(path)})
    assert result.exit_code == 0, result.output
    flags = service(path)
    assert flags.is_enabled(Flag.publish_service, "alice")
    on = sum(flags.is_enabled(Flag.publish_service, f"id-{i}") for i in range(10_000))
    assert 900 <= on <= 1100

    shown = runner.invoke(app, ["flags", "show"], env={"FLAGS_FILE": str(path)})
    assert "rollout" in shown.output
    assert "alice" in shown.output
    assert "10%" in shown.output

    full = runner.invoke(app, ["flags", "rollout", "PUBLISH_SERVICE_ENABLED", "--percent",
                               "100"], env={"FLAGS_FILE": str(path)})
    assert full.exit_code == 0
    assert service(path).is_enabled(Flag.publish_service, "anyone")


def test_a_corrupt_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text("{broken")
    result = runner.invoke(app, ["flags", "set", "PUBLISH_SERVICE_ENABLED", "off"],
                           env={"FLAGS_FILE": str(path)})
    assert result.exit_code == 1
    assert "not a valid flags file" in result.output
    assert path.read_text() == "{broken"


@pytest.mark.parametrize("args", [
    ["flags", "set", "NOPE", "on"],
    ["flags", "set", "PUBLISH_SERVICE_ENABLED", "maybe"],
    ["flags", "rollout", "PUBLISH_SERVICE_ENABLED", "--percent", "101"],
])
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = runner.invoke(app, args, env={"FLAGS_FILE": str(tmp_path / "f.json")})
    assert result.exit_code == 2


def test_postgres_without_the_table_exits_1_with_the_reason(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # On SQLite the file beside the database is the default (tests/cli/test_first_run.py); on
    # Postgres the flags live in the database (tests/cli/test_flags_cluster.py), and a database
    # without the table says so instead of a traceback.
    from postplan.config import get_settings

    monkeypatch.delenv("FLAGS_FILE", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["flags", "show"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "flag_definitions" in result.output and "postplan migrate" in result.output


@pytest.mark.live
def test_cli_rollback_reaches_a_running_server(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    assert runner.invoke(app, ["flags", "set", "PUBLISH_SERVICE_ENABLED", "on", "--file",
                               str(path)]).exit_code == 0
    settings: Settings = make_settings(sqlite_url(tmp_path), FLAGS_FILE=str(path),
                                       FLAGS_POLL_SECONDS=0.2)
    with live_server(build_app(settings)) as server:
        def enabled() -> bool:
            body = httpx.get(server.url + "/v1/flags", headers={"X-User-Id": "u1"}).json()
            return bool(body["flags"]["PUBLISH_SERVICE_ENABLED"]["enabled"])

        assert enabled()
        assert runner.invoke(app, ["flags", "set", "PUBLISH_SERVICE_ENABLED", "off", "--file",
                                   str(path)]).exit_code == 0
        deadline = time.monotonic() + 5
        while enabled():
            assert time.monotonic() < deadline, "rollback not live within 5 s"
            time.sleep(0.05)


def test_check_validates_a_file(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    assert runner.invoke(app, ["flags", "set", "CALENDAR_SERVICE_ENABLED", "on", "--file",
                               str(good)]).exit_code == 0
    ok = runner.invoke(app, ["flags", "check", str(good)])
    assert ok.exit_code == 0
    assert "CALENDAR_SERVICE_ENABLED" in ok.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"flags": {"X": {"state": "ENABLED", "variants": {"on": 1}}}}')
    result = runner.invoke(app, ["flags", "check", str(bad)])
    assert result.exit_code == 1
    assert "every variant must be true or false" in result.output
