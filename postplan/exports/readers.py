"""Read import files (a JSON export, a postplan CSV, a bulk-layout CSV) into raw entry dicts.

Reading is separate from validation: a row's defaults (the zone of a naive time, its id) depend
on the target calendar, which is only known once the file has been read.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from postplan.core.errors import AppError, Unprocessable
from postplan.core.vocab import FORMATS_BY_CHANNEL, Channel
from postplan.core.zones import check_zone, load_zone
from postplan.exports.csv_format import (
    BULK_COLUMNS,
    BULK_TEXT_COLUMNS,
    STANDARD_COLUMNS,
    STANDARD_TEXT_COLUMNS,
)
from postplan.exports.import_rows import MAX_IMPORT_ROWS, CalendarIn, EntryIn, row_errors
from postplan.exports.json_format import FORMAT_NAME, FORMAT_VERSION
from postplan.exports.text import from_spreadsheet_safe

REQUIRED_STANDARD = ("channel", "format", "scheduledAt")
REQUIRED_BULK = ("Date", "Time", "Text", "Channel")
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm")


class InvalidImportFile(Unprocessable):
    code = "invalid_import_file"
    title = "Invalid import file"


class ImportTooLarge(AppError):
    status_code = 413
    code = "import_too_large"
    title = "Import too large"


def _too_many_rows() -> ImportTooLarge:
    return ImportTooLarge(f"an import file may hold at most {MAX_IMPORT_ROWS} entries; split it",
                          extra={"maxRows": MAX_IMPORT_ROWS})


@dataclass
class ParsedFile:
    """What a file holds, before its rows are validated against a target calendar."""

    kind: str  # "json" | "csv" | "csv-bulk"
    calendar: CalendarIn | None = None
    calendar_hint: uuid.UUID | None = None
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def _not_json(name: str) -> Any:
    """`json.loads` reads NaN and ±Infinity, which JSON (RFC 8259) does not have and a
    PostgreSQL jsonb column refuses: such a file is malformed."""
    raise ValueError(f"{name} is not a JSON value")


def _whole(value: Any) -> bool:
    """A JSON whole number (`3` or `3.0`), not `true` or `"3"`."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def read_json(text: str) -> ParsedFile:
    """A `postplan.calendar` v1 document; file-level problems raise a 422."""
    try:
        doc = json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise InvalidImportFile(f"the file is not valid JSON: {exc.msg} at line {exc.lineno}",
                                code="malformed_json") from exc
    except ValueError as exc:  # an integer over Python's 4,300-digit limit, NaN, Infinity
        raise InvalidImportFile(f"the file is not valid JSON: {exc}"[:300],
                                code="malformed_json") from exc
    except RecursionError as exc:  # "[[[[…" thousands deep: no export looks like that
        raise InvalidImportFile("the file nests JSON too deeply", code="malformed_json") from exc
    if not isinstance(doc, dict):
        raise InvalidImportFile("the file must be a JSON object")
    if doc.get("format") != FORMAT_NAME:
        raise InvalidImportFile(f'"format" must be "{FORMAT_NAME}"', code="unsupported_format")
    version = doc.get("version")
    if not _whole(version) or version != FORMAT_VERSION:  # `true == 1` in Python
        raise InvalidImportFile(f"only version {FORMAT_VERSION} files can be imported",
                                code="unsupported_version",
                                extra={"supportedVersions": [FORMAT_VERSION]})
    unknown = set(doc) - {"format", "version", "calendar", "entries", "entryCount"}
    if unknown:
        raise InvalidImportFile(f"unknown top-level keys: {', '.join(sorted(unknown))}")
    entries = doc.get("entries")
    if not isinstance(entries, list):
        raise InvalidImportFile('"entries" must be a list')
    if len(entries) > MAX_IMPORT_ROWS:
        raise _too_many_rows()
    count = doc.get("entryCount")
    if not _whole(count):
        raise InvalidImportFile('"entryCount" must be the number of entries')
    if count != len(entries):
        raise InvalidImportFile(
            f'"entryCount" says {count} but the file holds {len(entries)} entries; '
            "the file looks truncated", code="truncated_file")
    # The format requires the calendar object (docs/schemas/calendar-export.v1.json), even
    # when `calendarId` names the target: every export has one.
    try:
        calendar = CalendarIn.model_validate(doc.get("calendar"))
    except ValidationError as exc:
        raise InvalidImportFile(
            "the calendar object is missing or not valid",
            extra={"errors": [{**e, "field": f"calendar.{e['field']}".rstrip(".")}
                              for e in row_errors(0, exc)]}) from exc
    parsed = ParsedFile(kind="json", calendar=calendar)
    for index, item in enumerate(entries, start=1):
        parsed.rows.append((index, item if isinstance(item, dict) else {"__invalid__": item}))
    return parsed


def read_csv(text: str) -> ParsedFile:
    """A postplan-layout or bulk-layout CSV (told apart by the header row)."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidImportFile("the CSV file is empty", code="empty_file") from None
    except csv.Error as exc:
        raise InvalidImportFile(f"the CSV header cannot be read: {exc}") from exc
    header = [h.strip() for h in header]
    bulk = "Text" in header and "channel" not in header
    required = REQUIRED_BULK if bulk else REQUIRED_STANDARD
    missing = [c for c in required if c not in header]
    if missing:
        expected = BULK_COLUMNS if bulk else STANDARD_COLUMNS
        raise InvalidImportFile(
            f"the CSV header lacks {', '.join(missing)}", code="csv_missing_columns",
            extra={"missingColumns": missing, "expectedColumns": list(expected)})
    text_columns = BULK_TEXT_COLUMNS if bulk else STANDARD_TEXT_COLUMNS
    parsed = ParsedFile(kind="csv-bulk" if bulk else "csv")
    record = 1  # the header is record 1, as a spreadsheet numbers it
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InvalidImportFile(f"CSV record {record + 1} cannot be read: {exc}") from exc
        record += 1
        if not any(c.strip() for c in cells):
            continue
        if len(parsed.rows) >= MAX_IMPORT_ROWS:
            raise _too_many_rows()
        values = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header)}
        for name in text_columns:
            if name in values:
                values[name] = from_spreadsheet_safe(values[name])
        if bulk:
            parsed.rows.append((record, _bulk_row(values)))
        else:
            if parsed.calendar_hint is None and values.get("calendarId"):
                with contextlib.suppress(ValueError):
                    parsed.calendar_hint = uuid.UUID(values["calendarId"])
            parsed.rows.append((record, _standard_row(values)))
    return parsed


def _standard_row(values: dict[str, str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for name in STANDARD_COLUMNS:
        if name not in values:
            continue
        value = values[name]
        if name in ("id", "runId", "calendarId", "version", "edited", "updatedAt") and not value:
            continue
        if name == "hashtags":
            raw[name] = value.split()
        elif name == "media":
            raw[name] = _json_cell(value) if value.strip() else []
        elif name == "version":
            # CSV cells are text; the version is a whole number (the JSON form is strict).
            raw[name] = int(value) if re.fullmatch(r"[0-9]{1,10}", value.strip()) else value
        elif name == "edited":
            raw[name] = {"true": True, "false": False}.get(value.strip().lower(), value)
        else:
            raw[name] = value
    return raw


def _json_cell(value: str) -> Any:
    try:
        return json.loads(value, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return value  # left as text: validation reports it against the field


def _bulk_row(values: dict[str, str]) -> dict[str, Any]:
    channel = values.get("Channel", "").strip().lower()
    fmt = values.get("Format", "").strip().lower()
    if not fmt and channel in set(Channel):
        fmt = str(FORMATS_BY_CHANNEL[Channel(channel)][0])
    raw: dict[str, Any] = {
        "channel": channel,
        "format": fmt,
        "scheduledAt": f"{values.get('Date', '').strip()}T{values.get('Time', '').strip()}",
        "caption": values.get("Text", ""),
    }
    if values.get("Timezone", "").strip():
        raw["timezone"] = values["Timezone"].strip()
    urls = [u for u in values.get("Media URLs", "").replace(",", " ").split() if u]
    raw["media"] = [
        {"url": u, "type": "video" if u.lower().split("?")[0].endswith(VIDEO_SUFFIXES)
         else "image"}
        for u in urls
    ]
    return raw


def natural_key_id(calendar_id: uuid.UUID, entry: EntryIn) -> uuid.UUID:
    """A stable id for a row that has none, so re-importing the same file adds nothing."""
    moment = entry.scheduled_at.astimezone(dt.UTC).isoformat()
    key = "\x1f".join([str(entry.channel), moment, entry.hook, entry.caption])
    return uuid.uuid5(calendar_id, key)


def validate_row(row: int, raw: dict[str, Any], default_timezone: str
                 ) -> tuple[EntryIn | None, list[dict[str, Any]]]:
    """Fill a row's defaults (zone, local time) and validate it."""
    if "__invalid__" in raw:
        return None, [{"row": row, "field": "entry", "message": "must be a JSON object"}]
    data = dict(raw)
    data.setdefault("timezone", default_timezone)
    if not data.get("timezone"):
        data["timezone"] = default_timezone
    moment = data.get("scheduledAt")
    if isinstance(moment, str):
        try:
            parsed = dt.datetime.fromisoformat(moment.strip())
        except ValueError:
            return None, [{"row": row, "field": "scheduledAt",
                           "message": "must be an ISO 8601 date and time"}]
        if parsed.tzinfo is None:
            try:
                parsed = parsed.replace(tzinfo=load_zone(check_zone(str(data["timezone"]))))
            except ValueError as exc:
                return None, [{"row": row, "field": "timezone", "message": str(exc)}]
        data["scheduledAt"] = parsed
    try:
        return EntryIn.model_validate(data), []
    except ValidationError as exc:
        return None, row_errors(row, exc)
