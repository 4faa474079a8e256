"""`postplan smoke`: against a real `postplan serve` (flags off), and against a fake server that
breaks the contract on purpose, to show each check can fail."""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from typer.testing import CliRunner

from postplan.cli import app
from postplan.cli.flags import rollout_flag, write_document
from postplan.cli.smoke import EXIT_INCOMPLETE, Smoke, normalise, parse_sse
from tests.cli.serving import seed_calendar, served
from tests.fixtures.apps import LiveServer

runner = CliRunner()
pytestmark = pytest.mark.live


def require_routes(url: str, *patterns: str) -> None:
    """The contract endpoints the smoke drives are served (a missing one fails the test)."""
    paths = httpx.get(url + "/openapi.json").json()["paths"]
    for pattern in patterns:
        assert any(re.search(pattern, p) for p in paths), f"no endpoint matches {pattern!r}"


def test_release_smoke_passes_with_flags_off(tmp_path: Path) -> None:
    with served(tmp_path) as (url, log_file, db_url):
        require_routes(url, r"^/v1/ai/calendar$", r"/export$", r"/publish$")
        seed_calendar(db_url, "smoke")
        result = runner.invoke(app, ["smoke", "--base-url", url, "--log-file", str(log_file)])
    assert result.exit_code == 0, result.output
    # The whole server log of that release smoke meets the strict log contract too.
    strict = runner.invoke(app, ["logs", "check", "--strict", str(log_file)])
    assert strict.exit_code == 0, strict.output
    for step in ("server ready", "generate deterministic", "export json (flag off) ×2",
                 "export ics (flag off) ×2", "publish dry-run (flag off) ×2 deterministic",
                 "no channel API call", "log lines carry required fields"):
        assert step in result.output
    assert "smoke: PASS" in result.output
    assert "FAIL" not in result.output.replace("smoke: PASS", "")


def test_without_a_calendar_the_smoke_is_incomplete_not_passed(tmp_path: Path) -> None:
    with served(tmp_path) as (url, _, _):
        require_routes(url, r"^/v1/ai/calendar$")
        result = runner.invoke(app, ["smoke", "--base-url", url, "--user-id", "nobody-yet",
                                     "--no-import"])
    assert result.exit_code == EXIT_INCOMPLETE, result.output
    assert "skipped (no calendar)" in result.output
    assert "smoke: INCOMPLETE" in result.output


def test_a_user_inside_the_rollout_fails_the_smoke(tmp_path: Path) -> None:
    flags = tmp_path / "flags.json"
    write_document(flags, {"flags": {"PUBLISH_SERVICE_ENABLED": rollout_flag(0, ["smoke"])}})
    with served(tmp_path, FLAGS_FILE=str(flags)) as (url, _, _):
        result = runner.invoke(app, ["smoke", "--base-url", url])
    assert result.exit_code == 1
    assert "PUBLISH_SERVICE_ENABLED on for this user" in result.output


def test_an_unreachable_server_fails() -> None:
    result = runner.invoke(app, ["smoke", "--base-url", "http://127.0.0.1:9", "--timeout", "2"])
    assert result.exit_code == 1
    assert "server reachable" in result.output


# --- a fake server, to prove the checks bite ---------------------------------------------

def fake_app(*, random_entries: bool = False, live_publish: bool = False,
             calls_adapters: bool = False, export_changes: bool = False) -> FastAPI:
    fake = FastAPI()
    state = {"attempts": 0, "exports": 0}

    @fake.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @fake.get("/readyz")
    async def readyz() -> dict[str, Any]:
        return {"status": "ok", "checks": {"database": "ok"}}

    @fake.get("/v1/flags")
    async def flags() -> dict[str, Any]:
        return {"flags": {"CALENDAR_SERVICE_ENABLED": {"enabled": False},
                          "PUBLISH_SERVICE_ENABLED": {"enabled": False}}}

    @fake.get("/metrics")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(
            f'postplan_publish_attempts_total{{channel="tiktok",outcome="published"}} '
            f'{float(state["attempts"])}\n')

    @fake.post("/v1/ai/calendar")
    async def generate() -> StreamingResponse:
        run_id = str(uuid.uuid4())

        async def events() -> AsyncIterator[bytes]:
            yield f'event: run\ndata: {{"runId": "{run_id}", "mode": "legacy", ' \
                  f'"dryRun": true}}\n\n'.encode()
            for seq in range(3):
                hook = f"hook {random.random()}" if random_entries else f"hook {seq}"
                data = {"seq": seq, "entry": {"id": str(uuid.uuid4()), "runId": run_id,
                                              "hook": hook}}
                yield f"id: {run_id}:{seq}\nevent: entry\ndata: {json.dumps(data)}\n\n".encode()
            yield b": ping\n\n"
            done = {"runId": run_id, "status": "completed", "entryCount": 3}
            yield f"event: done\ndata: {json.dumps(done)}\n\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream")

    @fake.get("/v1/calendars")
    async def calendars() -> dict[str, Any]:
        return {"items": [{"id": "cal-1"}], "nextCursor": None}

    @fake.post("/v1/calendars/{calendar_id}/export")
    async def export(calendar_id: str, request: Request) -> PlainTextResponse:
        body = await request.json()
        state["exports"] += 1
        suffix = f" #{state['exports']}" if export_changes else ""
        return PlainTextResponse(f"{body['format']} export of {calendar_id}{suffix}")

    @fake.post("/v1/calendars/{calendar_id}/publish")
    async def publish(calendar_id: str) -> dict[str, Any]:
        if calls_adapters:
            state["attempts"] += 1
        status = "pending" if live_publish else "dry_run"
        return {"dryRun": not live_publish,
                "summary": {"total": 1, "succeeded": 0, "failed": 0, "queued": 0, "skipped": 0},
                "results": [{"intentId": str(uuid.uuid4()), "entryId": "e1",
                             "channel": "tiktok", "status": status, "error": None}]}

    return fake


def run_fake(**knobs: bool) -> dict[str, str]:
    server = LiveServer(fake_app(**knobs))
    server.start()
    try:
        result = Smoke(server.url, user_id="smoke", timeout=10).run()
    finally:
        server.stop()
    return {s.name: s.status for s in result.steps}


def test_fake_contract_server_passes() -> None:
    steps = run_fake()
    assert set(steps.values()) == {"PASS"}, steps


@pytest.mark.parametrize(("knob", "failing_step"), [
    ("random_entries", "generate deterministic"),
    ("export_changes", "export csv (flag off) ×2"),
    ("live_publish", "publish dry-run (flag off)"),
    ("calls_adapters", "no channel API call"),
])
def test_each_check_can_fail(knob: str, failing_step: str) -> None:
    steps = run_fake(**{knob: True})
    assert steps[failing_step] == "FAIL", steps


def test_sse_parser_and_normalise() -> None:
    text = ["event: run", 'data: {"a": 1}', "", ": ping", "", "id: r:1", "event: entry",
            'data: {"b":', "data: 2}", ""]
    events = list(parse_sse(iter(text)))
    assert [(e.event, e.data, e.id) for e in events] == [("run", {"a": 1}, None),
                                                         ("entry", {"b": 2}, "r:1")]
    assert normalise({"id": 1, "runId": 2, "x": [{"intentId": 3, "y": 4}]}) == {"x": [{"y": 4}]}
