"""A flagd `fractional` rollout must have whole, non-negative weights that add up to more
than 0, and name real variants. flagd-core clamps a negative weight to 0, so
`[["on", 10], ["off", -90]]` read like a 10 % rollout and turned the flag on for everyone;
both `postplan flags check` and the server accepted it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from postplan.cli import app as cli
from postplan.core.flags import Flag, FlagService
from tests.fixtures.apps import build_app, live_server, make_settings
from tests.fixtures.databases import sqlite_url

runner = CliRunner()
USERS = [f"user-{i:04d}" for i in range(500)]


def rollout(fractions: list[Any]) -> dict[str, Any]:
    return {"flags": {Flag.publish_service.value: {
        "state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off",
        "targeting": {"fractional": fractions}}}}


BAD = {
    "negative off weight": [["on", 10], ["off", -90]],
    "negative on weight": [["on", -1], ["off", 101]],
    "all zero": [["on", 0], ["off", 0]],
    "float weight": [["on", 1.5], ["off", 98.5]],
    "text weight": [["on", "10"], ["off", 90]],
    "boolean weight": [["on", True], ["off", 99]],
    "unknown variant": [["onn", 10], ["off", 90]],
    "not a pair": [["on", 10, 1], ["off", 90]],
    "no variants": [{"var": "email"}],
    "too heavy": [["on", 2**31], ["off", 1]],
}
GOOD = {
    "ten percent": [["on", 10], ["off", 90]],
    "bucketed by a property": [{"var": "targetingKey"}, ["on", 1], ["off", 3]],
    "weight shorthand": [["on"], ["off", 3]],
    "off for everyone": [["on", 0], ["off", 1]],
}


@pytest.mark.parametrize("fractions", BAD.values(), ids=BAD.keys())
def test_bad_weights_are_refused_by_check_and_the_server(tmp_path: Path,
                                                          fractions: list[Any]) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(rollout(fractions)), encoding="utf-8")
    result = runner.invoke(cli, ["flags", "check", str(path)])
    assert result.exit_code == 1, result.output
    assert "fractional" in result.output
    service = FlagService(make_settings("sqlite+aiosqlite:///unused.db", FLAGS_FILE=str(path)))
    assert service.file_status.state == "invalid"
    assert not any(service.is_enabled(Flag.publish_service, u) for u in USERS)


@pytest.mark.parametrize("fractions", GOOD.values(), ids=GOOD.keys())
def test_good_weights_are_accepted(tmp_path: Path, fractions: list[Any]) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(rollout(fractions)), encoding="utf-8")
    assert runner.invoke(cli, ["flags", "check", str(path)]).exit_code == 0
    service = FlagService(make_settings("sqlite+aiosqlite:///unused.db", FLAGS_FILE=str(path)))
    assert service.file_status.state == "ok"
    on = sum(service.is_enabled(Flag.publish_service, u) for u in USERS)
    assert on < len(USERS)


@pytest.mark.live
def test_a_running_server_keeps_its_last_good_rollout(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(rollout(GOOD["off for everyone"])), encoding="utf-8")
    settings = make_settings(sqlite_url(tmp_path), FLAGS_FILE=str(path), FLAGS_POLL_SECONDS=60)
    app = build_app(settings)
    with live_server(app) as server, httpx.Client(base_url=server.url) as client:
        path.write_text(json.dumps(rollout(BAD["negative off weight"])), encoding="utf-8")
        app.state.flags.refresh()
        for user in USERS[:50]:
            body = client.get("/v1/flags", headers={"X-User-Id": user}).json()
            assert body["file"]["status"] == "invalid"
            assert body["flags"][Flag.publish_service.value]["enabled"] is False
