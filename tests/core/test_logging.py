"""The whole server log — uvicorn's own lines and the request (access) log — is one JSON pipeline
with the six required fields (docs/research.md, reliability §8 item 17), checked on a real
`postplan serve`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from postplan.core.context import REQUIRED_LOG_FIELDS
from postplan.core.logcheck import check_file
from tests.cli.serving import served

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
