"""Check a JSON-lines log against the log contract (docs/contract.md §6 and its ops appendix).

Every line must be one JSON object carrying the six required keys (null allowed where a field does
not apply). With `strict`, lines of some events must also have some of them non-null: a request
line needs its `requestId`, a stream line its `runId`, a publish line its `channel` and `status`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from postplan.core.context import REQUIRED_LOG_FIELDS

#: Event-name prefixes whose lines must carry these fields non-null (checked with `strict`).
NON_NULL_BY_PREFIX: Mapping[str, tuple[str, ...]] = {
    "http.request": ("requestId", "status"),
    "sse.": ("requestId", "runId"),
    # One entry's result on one channel (the worker's lines).
    "publish.published": ("channel", "status"),
    "publish.failed": ("channel", "status"),
    "publish.needs_reauth": ("channel", "status"),
    "publish.unknown": ("channel", "status"),
    # Other publish lines may span channels (publish.recorded is one per request).
    "publish.": ("status",),
    "adapter.": ("channel",),
    "alert": ("status",),
}


@dataclass
class EventReport:
    """What one event name's lines lack."""

    event: str
    lines: int = 0
    missing: Counter[str] = field(default_factory=Counter)
    null_but_expected: Counter[str] = field(default_factory=Counter)
    first_bad_line: int | None = None


@dataclass
class LogCheckReport:
    """The result of checking one log."""

    total_lines: int = 0
    json_lines: int = 0
    not_json: list[tuple[int, str]] = field(default_factory=list)
    events: dict[str, EventReport] = field(default_factory=dict)
    strict: bool = False

    #: Line numbers lacking at least one required key.
    bad_lines: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every line is JSON with every required key (and, strict, non-null)."""
        if self.not_json or self.bad_lines:
            return False
        return not (self.strict and any(r.null_but_expected for r in self.events.values()))


def expected_non_null(event: str) -> tuple[str, ...]:
    """The fields that `event` lines must carry non-null under `strict`."""
    for prefix, fields in NON_NULL_BY_PREFIX.items():
        if event == prefix or (prefix.endswith(".") and event.startswith(prefix)):
            return fields
    return ()


def check_record(record: Mapping[str, Any], required: Iterable[str] = REQUIRED_LOG_FIELDS
                 ) -> tuple[list[str], list[str]]:
    """(missing keys, keys expected non-null but null) for one parsed log line."""
    missing = [f for f in required if f not in record]
    event = str(record.get("event", ""))
    nulls = [f for f in expected_non_null(event) if f in record and record[f] is None]
    return missing, nulls


def check_lines(lines: Iterable[str], *, strict: bool = False,
                required: Iterable[str] = REQUIRED_LOG_FIELDS) -> LogCheckReport:
    """Check JSON lines; blank lines are ignored."""
    required = tuple(required)
    report = LogCheckReport(strict=strict)
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        report.total_lines += 1
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            report.not_json.append((number, line[:120]))
            continue
        report.json_lines += 1
        event = str(record.get("event", "<no event>"))
        entry = report.events.setdefault(event, EventReport(event=event))
        entry.lines += 1
        missing, nulls = check_record(record, required)
        entry.missing.update(missing)
        entry.null_but_expected.update(nulls)
        if missing:
            report.bad_lines.append(number)
        if (missing or (strict and nulls)) and entry.first_bad_line is None:
            entry.first_bad_line = number
    return report


def check_file(path: Path, *, strict: bool = False) -> LogCheckReport:
    """Check a JSON-lines log file."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        return check_lines(handle, strict=strict)
