"""The whole server log — uvicorn's own lines and the request (access) log — is one JSON pipeline
with the six required fields (reliability.md §8 item 17), checked on a real `postplan serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from postplan.core.context import REQUIRED_LOG_FIELDS
from postplan.core.logcheck import check_file
from tests.fixtures.apps import free_port

ROOT = Path(__file__).resolve().parents[2]


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED", "FLAGS_FILE",
                        "DATABASE_URL", "AUTH_MODE", "LOG_FILE", "LLM_BASE_URL"}}
    env.update({
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        "LOG_FILE": str(tmp_path / "server.log"),
        "WORKER_ENABLED": "false",
        "SPOOL_DIR": str(tmp_path / "spool"),
        "PYTHONUNBUFFERED": "1",
        **extra,
    })
    return env


def wait_ready(url: str, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not become ready")


def serve(tmp_path: Path, **extra: str) -> Iterator[tuple[str, Path]]:
    """`postplan serve` as a real process; yields (base URL, log file); SIGTERM at the end."""
    port = free_port()
    env = server_env(tmp_path, **extra)
    proc = subprocess.Popen([sys.executable, "-m", "postplan.cli", "serve", "--port", str(port),
                             "--no-worker"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield url, Path(env["LOG_FILE"])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.mark.live
def test_server_log_is_json_with_required_fields(tmp_path: Path) -> None:
    gen = serve(tmp_path)
    url, log_file = next(gen)
    httpx.get(url + "/v1/flags", headers={"X-User-Id": "log-user", "X-Request-ID": "req-log-1"})
    httpx.get(url + "/v1/does-not-exist", headers={"X-Request-ID": "req-log-2"})
    for _ in gen:  # stop the server: shutdown lines are part of the check
        pass

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
