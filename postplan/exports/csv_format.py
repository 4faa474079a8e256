"""CSV exports: the documented postplan layout (lossless, re-importable) and the bulk-upload
layout scheduling tools take. See docs/exports.md for the columns."""

from __future__ import annotations

import csv
import io
import json

from postplan.exports.records import STORED, ExportCalendar, ExportEntry, media_json, utc_iso
from postplan.exports.text import post_text, spreadsheet_safe

#: Columns holding user text: only these get the formula-neutralising quote (and lose it on import).
STANDARD_TEXT_COLUMNS = frozenset(
    {"pillar", "hook", "caption", "hashtags", "callToAction", "assetNotes"}
)
BULK_TEXT_COLUMNS = frozenset({"Text"})

#: The postplan layout, in order. Renaming or reordering a column is a breaking change.
STANDARD_COLUMNS = (
    "id", "calendarId", "runId", "channel", "format", "scheduledAt", "timezone", "pillar",
    "hook", "caption", "hashtags", "callToAction", "assetNotes", "media", "version", "edited",
    "updatedAt",
)

#: The bulk-upload layout (Buffer/SocialBee/Hootsuite style: local date and time, the post text,
#: media URLs), plus the channel and zone so one file can be split per profile.
BULK_COLUMNS = ("Date", "Time", "Text", "Media URLs", "Channel", "Timezone")

#: Excel only reads UTF-8 (emoji, Arabic, Hebrew) correctly when the file starts with a BOM.
BOM = "\ufeff".encode()


class _RowWriter:
    """One reusable csv.writer; each call returns the encoded bytes of one record."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)

    def encode(self, cells: list[str]) -> bytes:
        """Cells must already be spreadsheet-safe where they carry user text."""
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(cells)
        return self._buffer.getvalue().encode("utf-8")


def media_cell(entry: ExportEntry) -> str:
    """Media as compact JSON (`[{"url":…,"type":…}]`, `[{"mediaId":…}]` for an uploaded file):
    exact, and never starts a formula."""
    if not entry.media:
        return "[]"
    return json.dumps(media_json(entry.media), ensure_ascii=False, separators=(",", ":"))


class StandardCsvWriter:
    """The postplan layout: one row per entry, every Entry field, re-importable exactly."""

    extension = "csv"
    media_type = "text/csv; charset=utf-8"

    def __init__(self, calendar: ExportCalendar) -> None:
        self._rows = _RowWriter()

    def entry(self, e: ExportEntry) -> bytes:
        safe = spreadsheet_safe
        return self._rows.encode([
            e.id, e.calendar_id, e.run_id or "", e.channel, e.format,
            e.scheduled_at.isoformat(), e.timezone, safe(e.pillar), safe(e.hook),
            safe(e.caption), safe(" ".join(e.hashtags)), safe(e.call_to_action),
            safe(e.asset_notes), media_cell(e), str(e.version),
            "true" if e.edited else "false", utc_iso(e.updated_at),
        ])

    def prefix(self) -> bytes:
        return BOM + self._rows.encode(list(STANDARD_COLUMNS))

    def suffix(self, count: int) -> bytes:
        return b""


class BulkCsvWriter:
    """The bulk-upload layout: local date and time, the publishable text, media URLs."""

    extension = "csv"
    media_type = "text/csv; charset=utf-8"

    def __init__(self, calendar: ExportCalendar) -> None:
        self._rows = _RowWriter()

    def entry(self, e: ExportEntry) -> bytes:
        local = e.scheduled_at
        return self._rows.encode([
            local.date().isoformat(), f"{local:%H:%M}", spreadsheet_safe(post_text(e)),
            # Bulk tools take public URLs only: an uploaded file has none that lasts.
            ",".join(url for kind, url in e.media if kind != STORED), e.channel, e.timezone,
        ])

    def prefix(self) -> bytes:
        return BOM + self._rows.encode(list(BULK_COLUMNS))

    def suffix(self, count: int) -> bytes:
        return b""
