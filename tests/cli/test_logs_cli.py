"""`postplan logs check FILE`: a table by event; exit 1 when a required field is missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from postplan.cli import app
from postplan.core.context import REQUIRED_LOG_FIELDS

runner = CliRunner()


def record(event: str, **fields: Any) -> dict[str, Any]:
    return {**dict.fromkeys(REQUIRED_LOG_FIELDS), "event": event, **fields}


def write(path: Path, records: list[dict[str, Any]], extra: str = "") -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n" + extra)
    return path


def test_complete_log_passes(tmp_path: Path) -> None:
    log = write(tmp_path / "ok.log", [record("http.request", requestId="r", status=200),
                                      record("app.started")])
    result = runner.invoke(app, ["logs", "check", str(log)])
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output
    assert "http.request" in result.output


def test_missing_field_fails_and_names_event_and_field(tmp_path: Path) -> None:
    bad = record("publish.result", channel="tiktok", status="failed")
    del bad["runId"]
    log = write(tmp_path / "bad.log", [record("app.started"), bad])
    result = runner.invoke(app, ["logs", "check", str(log)])
    assert result.exit_code == 1
    assert "publish.result" in result.output
    assert "runId×1" in result.output
    assert "FAIL" in result.output


def test_non_json_line_fails(tmp_path: Path) -> None:
    log = write(tmp_path / "mixed.log", [record("app.started")],
                extra="INFO:     Uvicorn running on http://127.0.0.1:8000\n")
    result = runner.invoke(app, ["logs", "check", str(log)])
    assert result.exit_code == 1
    assert "not a JSON object" in result.output


def test_strict_fails_on_null_key_fields(tmp_path: Path) -> None:
    log = write(tmp_path / "nulls.log", [record("publish.failed", channel=None, status="failed")])
    assert runner.invoke(app, ["logs", "check", str(log)]).exit_code == 0
    assert runner.invoke(app, ["logs", "check", "--strict", str(log)]).exit_code == 1


def test_empty_log_fails(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("")
    assert runner.invoke(app, ["logs", "check", str(empty)]).exit_code == 1
