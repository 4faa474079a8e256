"""The log contract check (`postplan logs check`): missing fields, non-JSON lines, strict nulls."""

from __future__ import annotations

import json
from typing import Any

from postplan.core.context import REQUIRED_LOG_FIELDS
from postplan.core.logcheck import check_lines, expected_non_null


def line(event: str, **fields: Any) -> str:
    record: dict[str, Any] = dict.fromkeys(REQUIRED_LOG_FIELDS)
    record.update(event=event, level="info", ts="2026-01-01T00:00:00Z", **fields)
    return json.dumps(record)


def without(text: str, *keys: str) -> str:
    record = json.loads(text)
    for key in keys:
        record.pop(key)
    return json.dumps(record)


def test_complete_lines_pass() -> None:
    report = check_lines([line("http.request", requestId="r1", status=200), "",
                          line("app.started")])
    assert report.ok
    assert report.total_lines == 2
    assert report.events["http.request"].lines == 1


def test_a_missing_required_field_fails_and_is_grouped_by_event() -> None:
    report = check_lines([
        line("http.request", requestId="r1", status=200),
        without(line("publish.result", channel="tiktok", status="failed"), "runId"),
        without(line("publish.result", channel="tiktok", status="failed"), "runId", "userId"),
        without(line("sse.stream.finished"), "calendarId"),
    ])
    assert not report.ok
    assert report.bad_lines == [2, 3, 4]
    assert report.events["publish.result"].missing == {"runId": 2, "userId": 1}
    assert report.events["publish.result"].first_bad_line == 2
    assert report.events["sse.stream.finished"].missing == {"calendarId": 1}
    assert not report.events["http.request"].missing


def test_non_json_lines_fail() -> None:
    report = check_lines([line("app.started"), "INFO:     Started server process [1]", "[1, 2]"])
    assert not report.ok
    assert [n for n, _ in report.not_json] == [2, 3]


def test_strict_requires_key_fields_non_null() -> None:
    lines = [line("http.request", requestId=None, status=200),
             line("publish.result", channel="tiktok", status=None)]
    assert check_lines(lines).ok  # null is allowed by the base contract
    strict = check_lines(lines, strict=True)
    assert not strict.ok
    assert strict.events["http.request"].null_but_expected == {"requestId": 1}
    assert strict.events["publish.result"].null_but_expected == {"status": 1}


def test_expectations_by_prefix() -> None:
    assert expected_non_null("sse.stream.finished") == ("requestId", "runId")
    assert expected_non_null("http.request") == ("requestId", "status")
    assert expected_non_null("http.requests") == ()
    assert expected_non_null("publish.failed") == ("channel", "status")
    assert expected_non_null("publish.recorded") == ("status",)
    assert expected_non_null("app.started") == ()
