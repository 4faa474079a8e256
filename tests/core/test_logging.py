"""The whole server log — uvicorn's own lines and the request (access) log — is one JSON pipeline
with the six required fields (docs/research.md, reliability §8 item 17), checked on a real
`postplan serve`."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from postplan.core.context import REQUIRED_LOG_FIELDS
from postplan.core.logcheck import check_file
from postplan.core.logging import choose_format, configure_logging, get_logger
from tests.cli.serving import served
from tests.fixtures.apps import build_app, in_process_client, make_settings
from tests.fixtures.databases import sqlite_url

ROOT = Path(__file__).resolve().parents[2]


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.mark.live
def test_server_log_is_json_with_required_fields(tmp_path: Path) -> None:
    with served(tmp_path) as (url, log_file, _):
        httpx.get(url + "/v1/flags", headers={"X-User-Id": "log-user",
                                              "X-Request-ID": "req-log-1"})
        httpx.get(url + "/v1/does-not-exist", headers={"X-Request-ID": "req-log-2"})
    # The server has stopped: its shutdown lines are part of the check.

    report = check_file(log_file)
    assert report.ok, (report.not_json, {k: v.missing for k, v in report.events.items()})
    records = read_lines(log_file)
    events = [r["event"] for r in records]
    # uvicorn's own lines went through the same pipeline, without the ANSI copy.
    assert any("Uvicorn running on" in e for e in events)
    assert any("Started server process" in e for e in events)
    assert any("Shutting down" in e or "Finished server process" in e for e in events)
    assert not any("color_message" in r for r in records)
    for record in records:
        assert set(REQUIRED_LOG_FIELDS) <= record.keys()
    # The access log: one http.request line per request, with its request id, user and status.
    access = {r["requestId"]: r for r in records if r["event"] == "http.request"}
    assert access["req-log-1"]["userId"] == "log-user"
    assert access["req-log-1"]["status"] == 200
    assert access["req-log-1"]["path"] == "/v1/flags"
    assert access["req-log-2"]["status"] == 404


# --- LOG_FORMAT, LOG_FILE under logrotate, probe lines ------------------------------------

class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_format_is_console_on_a_terminal_and_json_otherwise() -> None:
    assert choose_format("auto", to_file=False, stream=_Terminal()) == "console"
    assert choose_format("auto", to_file=False, stream=io.StringIO()) == "json"
    assert choose_format("auto", to_file=True, stream=_Terminal()) == "json"
    assert choose_format("json", to_file=False, stream=_Terminal()) == "json"
    assert choose_format("console", to_file=False, stream=io.StringIO()) == "console"
    with pytest.raises(ValueError, match="log format"):
        choose_format("xml", to_file=False)


def test_console_format_prints_readable_lines_without_nulls_or_secrets(
        capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", fmt="console")
    try:
        get_logger("t").info("demo.event", calendarId="cal-1", token="act.supersecret123")
    finally:
        configure_logging("INFO")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert not line.startswith("{")
    assert "demo.event" in line and "calendarId=cal-1" in line
    assert "supersecret" not in line
    assert "requestId" not in line  # null required fields say nothing to a reader


def test_log_file_survives_logrotate_rename(tmp_path: Path) -> None:
    log_file = tmp_path / "postplan.log"
    configure_logging("INFO", log_file)
    try:
        get_logger("t").info("before.rotate")
        log_file.rename(tmp_path / "postplan.log.1")  # what logrotate's default `create` does
        get_logger("t").info("after.rotate")
    finally:
        configure_logging("INFO")
    assert [r["event"] for r in read_lines(tmp_path / "postplan.log.1")] == ["before.rotate"]
    assert [r["event"] for r in read_lines(log_file)] == ["after.rotate"]


@pytest.mark.parametrize(("level", "logged"), [("INFO", False), ("DEBUG", True)])
async def test_probes_log_at_debug_only(tmp_path: Path, level: str, logged: bool) -> None:
    log_file = tmp_path / "postplan.log"
    configure_logging(level, log_file)
    try:
        app = build_app(make_settings(await asyncio.to_thread(sqlite_url, tmp_path)))
        async with in_process_client(app) as client:
            for path in ("/healthz", "/readyz", "/metrics"):
                assert (await client.get(path)).status_code == 200
            await client.get("/v1/flags", headers={"X-User-Id": "u"})
    finally:
        configure_logging("INFO")
    requests = [r for r in read_lines(log_file) if r["event"] == "http.request"]
    probes = sorted(r["path"] for r in requests if r["path"] != "/v1/flags")
    assert probes == (["/healthz", "/metrics", "/readyz"] if logged else [])
    assert [r["level"] for r in requests if r["path"] == "/v1/flags"] == ["info"]
    if logged:
        assert {r["level"] for r in requests if r["path"] != "/v1/flags"} == {"debug"}


def test_deploy_id_labels_build_info_and_start_line(tmp_path: Path) -> None:
    from prometheus_client import generate_latest

    from postplan.core.metrics import registry

    app = build_app(make_settings(sqlite_url(tmp_path), DEPLOY_ID="deploy-2026-12-06.1"))
    assert app.state.settings.deploy_id == "deploy-2026-12-06.1"
    text = generate_latest(registry).decode()
    assert 'postplan_build_info{deploy_id="deploy-2026-12-06.1",version="' in text
    build_app(make_settings(sqlite_url(tmp_path)))
    assert 'postplan_build_info{deploy_id="",version="' in generate_latest(registry).decode()
