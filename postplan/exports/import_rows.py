"""Validated shapes of what an import brings in: one calendar header and entries.

Both the JSON and the CSV readers end here, so the rules (channels, formats, text limits, zones)
are the same whichever file a user sends. Limits match a manual edit (`PATCH …/entries/{id}`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from postplan.core.channel_options import ChannelOptions
from postplan.core.entryfields import (
    MAX_HASHTAGS,
    MAX_MEDIA,
    AssetNotes,
    CallToAction,
    Caption,
    EntryInput,
    Hook,
    Media,
    Pillar,
)
from postplan.core.schemas import InputSchema
from postplan.core.validators import (
    JSON_OBJECT_MARKER,
    NOT_TEXT,
    Hashtag,
    IsoDateTime,
    NoNul,
    ZoneName,
    bounded_json,
    conflict,
    moment_in_range,
    no_nul,
    offset_or_none,
)
from postplan.core.vocab import FORMATS_BY_CHANNEL, Channel, EntryFormat

#: Entry versions are a 32-bit integer column.
MAX_VERSION = 2**31 - 1
#: Rows one import file may hold; a larger calendar is imported in several files.
MAX_IMPORT_ROWS = 10_000


def _formats_follow_channel(schema: dict[str, Any]) -> None:
    """Say in the JSON schema which formats each channel takes (JSON Schema `if`/`then`)."""
    schema["allOf"] = [
        {"if": {"properties": {"channel": {"const": channel.value}}, "required": ["channel"]},
         "then": {"properties": {"format": {"enum": [f.value for f in formats]}}}}
        for channel, formats in FORMATS_BY_CHANNEL.items()
    ]


class EntryIn(EntryInput):
    """One entry of an import file (the Entry of docs/contract.md §2; server-owned fields
    optional)."""

    model_config = ConfigDict(json_schema_extra=_formats_follow_channel)

    id: uuid.UUID | None = None
    calendar_id: uuid.UUID | None = None
    run_id: uuid.UUID | None = None
    channel: Channel
    format: EntryFormat
    scheduled_at: IsoDateTime
    timezone: ZoneName
    pillar: Pillar = ""
    hook: Hook = ""
    caption: Caption = ""
    hashtags: list[Hashtag] = Field(default_factory=list, max_length=MAX_HASHTAGS)
    call_to_action: CallToAction = ""
    asset_notes: AssetNotes = ""
    media: list[Media] = Field(default_factory=list, max_length=MAX_MEDIA)
    #: Left out (CSV, older files): the entry's options are kept as they are.
    channel_options: ChannelOptions | None = None
    version: Annotated[int, Field(ge=1, le=MAX_VERSION), NOT_TEXT] | None = None
    edited: StrictBool | None = None
    updated_at: IsoDateTime | None = None

    @field_validator("format")
    @classmethod
    def _format_fits_channel(cls, value: EntryFormat, info: ValidationInfo) -> EntryFormat:
        channel = info.data.get("channel")
        if channel is not None and value not in FORMATS_BY_CHANNEL[channel]:
            raise conflict(f"format {value} is not available on {channel}")
        return value


class CalendarIn(InputSchema):
    """The `calendar` object of a JSON export."""

    id: uuid.UUID | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=200), NoNul()]
    timezone: ZoneName
    brief: Annotated[dict[str, Any],
                     WithJsonSchema({"type": "object", JSON_OBJECT_MARKER: True})] = Field(
        default_factory=dict, description="the generation brief, as exported")
    latest_run_id: uuid.UUID | None = None
    created_at: IsoDateTime | None = None
    updated_at: IsoDateTime | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return no_nul(value)

    @field_validator("created_at", "updated_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        return moment_in_range(offset_or_none(value, "must carry a UTC offset"))

    @field_validator("brief")
    @classmethod
    def _brief(cls, value: dict[str, Any]) -> dict[str, Any]:
        return bounded_json(value)  # type: ignore[no-any-return]


def row_errors(row: int, exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as `{row, field, message}` (field in camelCase, like the file)."""
    out: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        message = str(err.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        out.append({"row": row, "field": ".".join(loc) or "entry", "message": message})
    return out
