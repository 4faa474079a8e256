"""The versioned JSON export (`postplan.calendar`, version 1; schema in
docs/schemas/calendar-export.v1.json), written one entry per line so it streams."""

from __future__ import annotations

import json
from typing import Any

from postplan.exports.records import ExportCalendar, ExportEntry

FORMAT_NAME = "postplan.calendar"
FORMAT_VERSION = 1


def dumps(value: Any) -> str:
    """Compact, UTF-8 (not \\u-escaped) and key order as given: byte-stable output."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class JsonWriter:
    """`{"format","version","calendar","entries":[…],"entryCount"}`."""

    extension = "json"
    media_type = "application/json"

    def __init__(self, calendar: ExportCalendar) -> None:
        self._calendar = calendar
        self._first = True

    def entry(self, e: ExportEntry) -> bytes:
        sep = "\n" if self._first else ",\n"
        self._first = False
        return (sep + dumps(e.to_json())).encode("utf-8")

    def prefix(self) -> bytes:
        head = (f'{{"format":{dumps(FORMAT_NAME)},"version":{FORMAT_VERSION},'
                f'"calendar":{dumps(self._calendar.to_json())},"entries":[')
        return head.encode("utf-8")

    def suffix(self, count: int) -> bytes:
        return f'\n],"entryCount":{count}}}\n'.encode()
