"""Render an export file once, in a single pass over the entries, into a spool.

Why a spool: the checksum (`X-Checksum`, `ETag`, the dry-run `checksum`) must be known before
the first byte is sent, and ICS needs every zone before the first event. Rendering into a
`SpooledTemporaryFile` (memory up to 4 MiB, disk beyond) reads the database once, keeps memory
flat for any calendar size, and the hash is taken over exactly the bytes that are then streamed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tempfile
import unicodedata
from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, Protocol

from postplan.exports.csv_format import BulkCsvWriter, StandardCsvWriter
from postplan.exports.ics_format import IcsWriter
from postplan.exports.json_format import JsonWriter
from postplan.exports.records import CalendarRow, EntryRow, ExportCalendar, ExportEntry

SPOOL_MEMORY_BYTES = 4 * 1024 * 1024
CHUNK_BYTES = 64 * 1024
PREVIEW_ENTRIES = 5


class ExportFormat(StrEnum):
    csv = "csv"
    csv_bulk = "csv-bulk"
    ics = "ics"
    json = "json"


class FormatWriter(Protocol):
    extension: str
    media_type: str

    def entry(self, e: ExportEntry) -> bytes: ...
    def prefix(self) -> bytes: ...
    def suffix(self, count: int) -> bytes: ...


def writer_for(fmt: ExportFormat, calendar: ExportCalendar) -> FormatWriter:
    """The writer of one format."""
    if fmt is ExportFormat.csv:
        return StandardCsvWriter(calendar)
    if fmt is ExportFormat.csv_bulk:
        return BulkCsvWriter(calendar)
    if fmt is ExportFormat.ics:
        return IcsWriter(calendar)
    return JsonWriter(calendar)


def slugify(name: str) -> str:
    """An ASCII file-name slug of a calendar name (`calendar` when nothing is left)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-")
    return slug or "calendar"


@dataclass
class ExportFile:
    """A rendered export: metadata plus the bytes, readable once via `chunks()`."""

    format: ExportFormat
    media_type: str
    filename: str
    entry_count: int
    sha256: str
    size: int
    preview: str
    _prefix: bytes = field(repr=False)
    _suffix: bytes = field(repr=False)
    _spool: IO[bytes] = field(repr=False)

    @property
    def checksum(self) -> str:
        """`sha256:<hex>`, the value of the `X-Checksum` header."""
        return f"sha256:{self.sha256}"

    @property
    def etag(self) -> str:
        """A strong entity tag derived from the content."""
        return f'"{self.sha256}"'

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes in chunks; closes the spool when done (or when abandoned)."""
        try:
            if self._prefix:
                yield self._prefix
            self._spool.seek(0)
            while chunk := self._spool.read(CHUNK_BYTES):
                yield chunk
            if self._suffix:
                yield self._suffix
        finally:
            self._spool.close()

    def read_all(self) -> bytes:
        """The whole file in memory (tests, CLI, small feeds)."""
        return b"".join(self.chunks())

    def close(self) -> None:
        """Release the spool without reading it (dry runs)."""
        self._spool.close()


class ExportBuilder:
    """Feed entries one at a time with `add`, then `finish` once."""

    def __init__(self, calendar: CalendarRow, fmt: ExportFormat,
                 preview_entries: int = PREVIEW_ENTRIES) -> None:
        self.calendar = ExportCalendar.from_row(calendar)
        self.format = fmt
        self.writer = writer_for(fmt, self.calendar)
        self.count = 0
        self.latest = self.calendar.updated_at
        self._preview_entries = preview_entries
        self._preview: list[bytes] = []
        # Closed by ExportFile.chunks()/close() or abort(); it outlives this method by design.
        self._spool: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=SPOOL_MEMORY_BYTES)

    def add(self, row: EntryRow) -> None:
        """Render one saved entry."""
        entry = ExportEntry.from_row(row)
        chunk = self.writer.entry(entry)
        if self.count < self._preview_entries:
            self._preview.append(chunk)
        self._spool.write(chunk)
        self.count += 1
        if entry.updated_at > self.latest:
            self.latest = entry.updated_at

    def add_all(self, rows: Iterable[EntryRow]) -> None:
        """Render many saved entries."""
        for row in rows:
            self.add(row)

    def finish(self) -> ExportFile:
        """Seal the file: build prefix and suffix, hash every byte in order."""
        prefix = self.writer.prefix()
        suffix = self.writer.suffix(self.count)
        digest = hashlib.sha256(prefix)
        size = len(prefix) + len(suffix)
        self._spool.seek(0)
        while chunk := self._spool.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
        digest.update(suffix)
        preview = (prefix + b"".join(self._preview)).decode("utf-8", errors="replace")
        if preview.startswith("\ufeff"):
            preview = preview[1:]
        day = self.latest.astimezone(dt.UTC).date().isoformat()
        suffix_name = "-bulk" if self.format is ExportFormat.csv_bulk else ""
        filename = f"{slugify(self.calendar.name)}-{day}{suffix_name}.{self.writer.extension}"
        return ExportFile(
            format=self.format, media_type=self.writer.media_type, filename=filename,
            entry_count=self.count, sha256=digest.hexdigest(), size=size, preview=preview,
            _prefix=prefix, _suffix=suffix, _spool=self._spool,
        )

    def abort(self) -> None:
        """Drop a half-built file."""
        self._spool.close()


async def render(calendar: CalendarRow, rows: AsyncIterable[EntryRow],
                 fmt: ExportFormat) -> ExportFile:
    """Render a whole calendar from an async stream of saved entries."""
    builder = ExportBuilder(calendar, fmt)
    try:
        async for row in rows:
            builder.add(row)
    except BaseException:
        builder.abort()
        raise
    return builder.finish()


def render_sync(calendar: CalendarRow, rows: Iterable[EntryRow], fmt: ExportFormat) -> ExportFile:
    """Render from in-memory rows (benchmarks, tests)."""
    builder = ExportBuilder(calendar, fmt)
    builder.add_all(rows)
    return builder.finish()
