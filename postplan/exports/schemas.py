"""HTTP shapes of the exports domain (camelCase on the wire)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, model_validator

from postplan.core.schemas import InputSchema, Schema
from postplan.core.validators import NOT_TEXT, conflict
from postplan.exports.files import ExportFormat
from postplan.exports.import_rows import MAX_IMPORT_ROWS, CalendarIn, EntryIn


class ImportDocument(InputSchema):
    """A JSON import file: a `postplan.calendar` v1 export (docs/schemas/calendar-export.v1.json).

    Rows are validated one by one: an invalid entry is reported in the answer's `errors` (207)
    while the others are imported."""

    format: Literal["postplan.calendar"]
    version: Literal[1]
    calendar: CalendarIn
    entries: list[EntryIn] = Field(max_length=MAX_IMPORT_ROWS)
    entry_count: Annotated[int, Field(ge=0, le=MAX_IMPORT_ROWS), NOT_TEXT] = Field(
        description="must equal the number of entries")


class ExportRequest(InputSchema):
    """Body of `POST /v1/calendars/{calendarId}/export`."""

    format: ExportFormat
    dry_run: StrictBool = False
    layout: Literal["standard", "bulk"] = "standard"

    @model_validator(mode="after")
    def _layout(self) -> ExportRequest:
        if self.layout == "bulk":
            if self.format not in (ExportFormat.csv, ExportFormat.csv_bulk):
                raise conflict('layout "bulk" exists for format "csv" only')
            self.format = ExportFormat.csv_bulk
        return self


class ExportDryRun(Schema):
    """What a live export would produce, without producing it."""

    dry_run: bool = True
    format: str
    filename: str
    media_type: str
    entry_count: int
    checksum: str = Field(description="sha256:<hex> of the file a live export sends")
    bytes: int
    preview: str = Field(description="the file's beginning: header and the first entries")
    preview_entries: int
    live_export_enabled: bool


class ExportDocument(Schema):
    """A live JSON export (full schema: docs/schemas/calendar-export.v1.json)."""

    format: Literal["postplan.calendar"]
    version: int
    calendar: dict[str, Any]
    entries: list[dict[str, Any]]
    entry_count: int


class FeedOut(Schema):
    """A new feed token; shown once, only its hash is stored."""

    calendar_id: uuid.UUID
    token: str
    url: str
    webcal_url: str


class RowError(Schema):
    row: int
    field: str
    message: str


class ImportReport(Schema):
    """The outcome of an import; `errors` lists rows that were not written."""

    calendar_id: uuid.UUID
    calendar_created: bool
    kind: str
    total: int
    created: int
    updated: int
    unchanged: int
    failed: int
    errors: list[RowError]

    @classmethod
    def build(cls, **values: Any) -> ImportReport:
        """Construct from snake_case values."""
        return cls.model_validate(values)
