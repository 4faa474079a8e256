"""Flags: env bootstrap, unset OFF, flagd file with allowlist and sticky percentage, live reload,
corrupt file keeps the last good values (docs/research.md, reliability §8 item 15)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from postplan.cli.flags import boolean_flag, rollout_flag, write_document
from postplan.config import Settings
from postplan.core.flags import Flag, FlagService
from tests.fixtures.apps import build_app, live_server, make_settings
from tests.fixtures.databases import sqlite_url

PUBLISH = Flag.publish_service
CALENDAR = Flag.calendar_service
IDS = [f"user-{i:05d}" for i in range(10_000)]


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    return make_settings("sqlite+aiosqlite:///" + str(tmp_path / "unused.db"), **overrides)


def write_flags(path: Path, flags: dict[str, Any]) -> None:
    write_document(path, {"flags": flags})


def gauge_valid() -> float | None:
    return REGISTRY.get_sample_value("postplan_flag_config_valid")


def test_unset_flags_are_off(tmp_path: Path) -> None:
    service = FlagService(settings(tmp_path))
    assert service.evaluate_all("anyone") == {CALENDAR.value: False, PUBLISH.value: False}
    assert service.is_enabled(PUBLISH) is False
    assert service.file_status.state == "none"


def test_environment_is_the_start_up_default(tmp_path: Path) -> None:
    service = FlagService(settings(tmp_path, CALENDAR_SERVICE_ENABLED=True))
    decision = service.decide(CALENDAR, "u1")
    assert decision.enabled is True
    assert decision.source == "env"
    assert service.is_enabled(PUBLISH, "u1") is False


def test_missing_file_falls_back_to_environment(tmp_path: Path) -> None:
    service = FlagService(settings(tmp_path, PUBLISH_SERVICE_ENABLED=True,
                                   FLAGS_FILE=str(tmp_path / "absent.json")))
    assert service.is_enabled(PUBLISH, "u1") is True
    assert service.file_status.state == "missing"


def test_file_overrides_environment_per_flag(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    write_flags(path, {PUBLISH.value: boolean_flag(False)})
    service = FlagService(settings(tmp_path, PUBLISH_SERVICE_ENABLED=True,
                                   CALENDAR_SERVICE_ENABLED=True, FLAGS_FILE=str(path)))
    assert service.decide(PUBLISH, "u1").source == "file"
    assert service.is_enabled(PUBLISH, "u1") is False  # the rollback wins over the env default
    assert service.is_enabled(CALENDAR, "u1") is True  # not in the file: env value


def test_allowlist_turns_on_only_listed_users(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    write_flags(path, {PUBLISH.value: rollout_flag(0, ["alice", "bob"])})
    service = FlagService(settings(tmp_path, FLAGS_FILE=str(path)))
    assert service.is_enabled(PUBLISH, "alice")
    assert service.is_enabled(PUBLISH, "bob")
    assert not service.is_enabled(PUBLISH, "carol")
    assert not service.is_enabled(PUBLISH, None)
    assert service.decide(PUBLISH, "alice").reason == "TARGETING_MATCH"


def test_disabled_state_is_a_kill_switch(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    flag = rollout_flag(50, ["alice"])
    flag["state"] = "DISABLED"
    write_flags(path, {PUBLISH.value: flag})
    service = FlagService(settings(tmp_path, FLAGS_FILE=str(path), PUBLISH_SERVICE_ENABLED=True))
    assert not service.is_enabled(PUBLISH, "alice")


def _on_ids(path: Path) -> list[str]:
    service = FlagService(make_settings("sqlite+aiosqlite:///unused.db", FLAGS_FILE=str(path)))
    return [i for i in IDS if service.is_enabled(PUBLISH, i)]


def test_percentage_is_ten_percent_and_identical_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    write_flags(path, {PUBLISH.value: rollout_flag(10, ["vip-1"])})
    here = _on_ids(path)
    assert 900 <= len(here) <= 1100, len(here)
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from tests.core.test_flags import _on_ids\n"
        "print(json.dumps(_on_ids(Path(sys.argv[1]))))\n"
    )
    root = Path(__file__).resolve().parents[2]
    others = []
    for seed in ("0", "12345"):  # different hash seeds: bucketing must not use Python's hash()
        out = subprocess.run([sys.executable, "-c", script, str(path)], cwd=root, check=True,
                             capture_output=True, text=True, timeout=120,
                             env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"})
        others.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert others[0] == here
    assert others[1] == here


def test_widening_the_rollout_keeps_users_in(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    write_flags(path, {PUBLISH.value: rollout_flag(10, [])})
    ten = set(_on_ids(path))
    write_flags(path, {PUBLISH.value: rollout_flag(30, [])})
    thirty = set(_on_ids(path))
    assert ten < thirty
    assert 2800 <= len(thirty) <= 3200


def test_corrupt_file_keeps_last_good_values_and_sets_gauge(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    write_flags(path, {PUBLISH.value: rollout_flag(0, ["alice"])})
    service = FlagService(settings(tmp_path, FLAGS_FILE=str(path)))
    assert service.is_enabled(PUBLISH, "alice")
    assert gauge_valid() == 1
    path.write_text('{"flags": {"PUBLISH_SERVICE_ENABLED": {"state": "ENAB', encoding="utf-8")
    with capture_logs() as logs:
        service.refresh()
    assert service.is_enabled(PUBLISH, "alice")  # last good
    assert not service.is_enabled(PUBLISH, "carol")
    assert service.file_status.state == "invalid"
    assert gauge_valid() == 0
    invalid = [entry for entry in logs if entry["event"] == "flags.file_invalid"]
    assert len(invalid) == 1
    assert "not JSON" in invalid[0]["error"]
    # The same bad content does not log again on every poll.
    with capture_logs() as again:
        service.refresh()
    assert not [e for e in again if e["event"] == "flags.file_invalid"]
    # A valid file again: new values, gauge back to 1.
    write_flags(path, {PUBLISH.value: boolean_flag(True)})
    service.refresh()
    assert service.is_enabled(PUBLISH, "carol")
    assert gauge_valid() == 1


@pytest.mark.parametrize("bad", [
    '{"flags": []}',
    '{"flags": {"PUBLISH_SERVICE_ENABLED": {"state": "ENABLED", "variants": {"on": "yes"},'
    ' "defaultVariant": "on"}}}',
    '{"flags": {"PUBLISH_SERVICE_ENABLED": {"state": "MAYBE", "variants": {"on": true},'
    ' "defaultVariant": "on"}}}',
    '{"flags": {"PUBLISH_SERVICE_ENABLED": {"state": "ENABLED", "variants": {"on": true},'
    ' "defaultVariant": "nope"}}}',
])
def test_invalid_documents_are_rejected(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "flags.json"
    path.write_text(bad, encoding="utf-8")
    service = FlagService(settings(tmp_path, FLAGS_FILE=str(path), PUBLISH_SERVICE_ENABLED=True))
    assert service.file_status.state == "invalid"
    assert service.is_enabled(PUBLISH, "u")  # no good file yet: env value
    assert gauge_valid() == 0


def test_flag_active_gauge_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    write_flags(path, {PUBLISH.value: boolean_flag(False)})
    service = FlagService(settings(tmp_path, FLAGS_FILE=str(path)))

    def active() -> float | None:
        return REGISTRY.get_sample_value("postplan_flag_active", {"flag": PUBLISH.value})

    assert active() == 0
    write_flags(path, {PUBLISH.value: rollout_flag(0, ["alice"])})
    service.refresh()
    assert active() == 1


@pytest.mark.live
def test_running_server_sees_a_file_change_within_five_seconds(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    write_flags(path, {PUBLISH.value: boolean_flag(False)})
    app = build_app(make_settings(sqlite_url(tmp_path), FLAGS_FILE=str(path),
                                  FLAGS_POLL_SECONDS=0.2))
    with live_server(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        def publish_for(user: str) -> dict[str, Any]:
            response = client.get("/v1/flags", headers={"X-User-Id": user})
            assert response.status_code == 200
            body: dict[str, Any] = response.json()
            return body

        first = publish_for("alice")
        assert first["flags"][PUBLISH.value] == {"enabled": False, "variant": "off",
                                                 "reason": "STATIC", "source": "file"}
        assert first["file"]["status"] == "ok"

        write_flags(path, {PUBLISH.value: rollout_flag(0, ["alice"])})
        changed_at = time.monotonic()
        deadline = changed_at + 5
        while time.monotonic() < deadline:
            if publish_for("alice")["flags"][PUBLISH.value]["enabled"]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the running server did not pick up the flags file within 5 s")
        assert publish_for("carol")["flags"][PUBLISH.value]["enabled"] is False

        # Corrupt file while running: last good values stay, status says invalid.
        path.write_text("{not json", encoding="utf-8")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            body = publish_for("alice")
            if body["file"]["status"] == "invalid":
                break
            time.sleep(0.05)
        else:
            pytest.fail("the corrupt file was not noticed within 5 s")
        assert body["flags"][PUBLISH.value]["enabled"] is True
        metrics = client.get("/metrics").text
        assert "postplan_flag_config_valid 0.0" in metrics

        # Rollback: flag off for everyone, live.
        write_flags(path, {PUBLISH.value: boolean_flag(False)})
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if not publish_for("alice")["flags"][PUBLISH.value]["enabled"]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the rollback was not picked up within 5 s")
