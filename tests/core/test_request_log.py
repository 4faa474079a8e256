"""Request log lines: one JSON object each, the six fields present, no secret ever printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from postplan.core.context import REQUIRED_LOG_FIELDS
from postplan.core.logging import configure_logging, get_logger, mask
from tests.fixtures.factories import seed_calendar


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("transport", ["live"], indirect=True)
async def test_request_lines_carry_the_six_fields(
    client_factory: Callable[..., Any], settings_factory: Callable[..., Any], db_url: str,
    tmp_path: Path,
) -> None:
    log_file = tmp_path / "postplan.log"
    configure_logging("INFO", log_file)
    try:
        seeded = await seed_calendar(db_url, user_id="alice")
        async with client_factory(settings_factory()) as client:
            await client.get(f"/v1/calendars/{seeded.calendar_id}",
                             headers={"X-User-Id": "alice", "X-Request-Id": "req-1",
                                      "Authorization": "Bearer act.supersecretvalue123"})
            await client.get("/v1/calendars/not-a-uuid", headers={"X-User-Id": "alice"})
    finally:
        configure_logging("INFO")
    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    assert lines, "nothing was logged"
    for line in lines:
        for field in REQUIRED_LOG_FIELDS:
            assert field in line, (field, line)
    requests = [r for r in lines if r["event"] == "http.request"]
    first = next(r for r in requests if r["requestId"] == "req-1")
    assert first["userId"] == "alice"
    assert first["calendarId"] == str(seeded.calendar_id)
    assert first["status"] == 200
    assert "supersecretvalue" not in log_file.read_text()


def test_secrets_are_masked_in_any_field(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    log = get_logger("test")
    log.info("adapter.call", accessToken="act.abcdefghijklmnop",
             detail={"refresh_token": "rft.zzzzzzzzzzzzzz", "note": "Bearer abc.def.ghi"},
             message="sent with act.abcdefghijklmnop")
    err = capsys.readouterr().err
    assert "abcdefghijklmnop" not in err
    assert "zzzzzzzzzzzzzz" not in err
    assert "abc.def.ghi" not in err
    assert mask("act.abcdefghijklmnop") == "act.***"
