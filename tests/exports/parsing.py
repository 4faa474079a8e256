"""Helpers that read export files with parsers postplan did not write."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import icalendar
import ics  # type: ignore[import-untyped]
import jsonschema  # type: ignore[import-untyped]

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "calendar-export.v1.json"


def csv_rows(body: bytes) -> list[dict[str, str]]:
    """Rows of a CSV export through the standard library's csv module."""
    text = body.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def validate_json_export(body: bytes) -> dict[str, Any]:
    """Parse a JSON export and validate it against the published schema."""
    doc: dict[str, Any] = json.loads(body)
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(doc)
    return doc


def icalendar_events(body: bytes) -> list[icalendar.Event]:
    """VEVENTs as parsed by the `icalendar` package."""
    cal = icalendar.Calendar.from_ical(body)
    return list(cal.walk("VEVENT"))


def ics_events(body: bytes) -> list[ics.Event]:
    """Events as parsed by the independent `ics` package (ordered by UID for comparisons)."""
    cal = ics.Calendar(body.decode("utf-8"))
    return sorted(cal.events, key=lambda e: e.uid)


def unescape_spreadsheet(value: str) -> str:
    """What a user gets back after removing the formula-guard quote by hand."""
    return value[1:] if value.startswith("'") else value


def ics_text(value: str) -> str:
    """The text an ICS event can carry: CR and CRLF become LF (RFC 5545 TEXT has no CR)."""
    return value.replace("\r\n", "\n").replace("\r", "\n")
