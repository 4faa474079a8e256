"""`postplan alerts check FILE`: which alerts a log would fire; exit 1 if any."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from postplan.cli import app

runner = CliRunner()
START = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)


def at(seconds: float) -> str:
    return (START + dt.timedelta(seconds=seconds)).isoformat()


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def streams(total: int, bad: int) -> list[dict[str, Any]]:
    return [{"event": "sse.stream.finished", "status": "timeout" if i < bad else "completed",
             "ts": at(i * 5)} for i in range(total)]


def test_quiet_log_exits_0(tmp_path: Path) -> None:
    log = write(tmp_path / "quiet.log", [{"event": "app.started", "ts": at(-7200)},
                                         *streams(100, 1)])
    result = runner.invoke(app, ["alerts", "check", str(log)])
    assert result.exit_code == 0, result.output
    assert "no alert would fire" in result.output


def test_sse_errors_above_2_percent_fire(tmp_path: Path) -> None:
    log = write(tmp_path / "sse.log", streams(100, 3)[::-1])
    result = runner.invoke(app, ["alerts", "check", str(log)])
    assert result.exit_code == 1, result.output
    assert "PostplanSSEErrorRateHigh" in result.output


def test_publish_failures_auth_missing_and_latency(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = [{"event": "app.started", "ts": at(0)}]
    records += [{"event": "publish.result", "channel": "instagram",
                 "status": "failed" if i < 2 else "published", "ts": at(60 + i)}
                for i in range(20)]
    records.append({"event": "adapter.auth_missing", "channel": "tiktok", "reason": "missing",
                    "ts": at(100)})
    records += [{"event": "http.request", "method": "POST",
                 "path": "/v1/calendars/4b1c/export", "durationMs": 6000, "ts": at(200 + i)}
                for i in range(25)]
    records.append({"event": "adapter.config_missing", "channel": "instagram",
                    "publishFlagActive": False, "ts": at(1)})  # publishing off: not an alert
    result = runner.invoke(app, ["alerts", "check", str(write(tmp_path / "p.log", records))])
    assert result.exit_code == 1
    for name in ("PostplanPublishFailureRateHigh", "PostplanPublishFirstFailureAfterDeploy",
                 "PostplanChannelAuthMissing", "PostplanExportLatencyHigh"):
        assert name in result.output
    assert "PostplanAdapterConfigMissing" not in result.output
