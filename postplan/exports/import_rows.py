"""Validated shapes of what an import brings in: one calendar header and entries.

Both the JSON and the CSV readers end here, so the rules (channels, formats, text limits, zones)
are the same whichever file a user sends. Limits match a manual edit (`PATCH …/entries/{id}`).
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from postplan.core.schemas import InputSchema
from postplan.core.validators import Hashtag, no_nul, offset_or_none
from postplan.core.vocab import FORMATS_BY_CHANNEL, Channel, EntryFormat


def check_zone(value: str) -> str:
    """An IANA zone name the server knows, or ValueError."""
    try:
        zoneinfo.ZoneInfo(value)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError) as exc:
        raise ValueError(f"{value!r} is not a known IANA time zone") from exc
    return value


class MediaIn(InputSchema):
    url: AnyHttpUrl
    type: Literal["image", "video"]


class EntryIn(InputSchema):
    """One entry of an import file (the Entry of DESIGN.md §2; server-owned fields optional)."""

    id: uuid.UUID | None = None
    calendar_id: uuid.UUID | None = None
    run_id: uuid.UUID | None = None
    channel: Channel
    format: EntryFormat
    scheduled_at: dt.datetime
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    pillar: Annotated[str, StringConstraints(max_length=80)] = ""
    hook: Annotated[str, StringConstraints(max_length=300)] = ""
    caption: Annotated[str, StringConstraints(max_length=4000)] = ""
    hashtags: list[Hashtag] = Field(default_factory=list, max_length=30)
    call_to_action: Annotated[str, StringConstraints(max_length=300)] = ""
    asset_notes: Annotated[str, StringConstraints(max_length=2000)] = ""
    media: list[MediaIn] = Field(default_factory=list, max_length=35)
    version: int | None = Field(None, ge=1)
    edited: bool | None = None
    updated_at: dt.datetime | None = None

    @field_validator("pillar", "hook", "caption", "call_to_action", "asset_notes")
    @classmethod
    def _text(cls, value: str) -> str:
        return no_nul(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        cleaned: list[str] = []
        for raw in value:
            tag = raw[1:] if raw.startswith("#") else raw
            if not tag or any(c.isspace() for c in tag) or "#" in tag or "\x00" in tag:
                raise ValueError(f"hashtag {raw!r} must be one word without '#' or spaces")
            cleaned.append(tag)
        return cleaned

    @field_validator("scheduled_at", "updated_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        return offset_or_none(value)

    @field_validator("format")
    @classmethod
    def _format_fits_channel(cls, value: EntryFormat, info: ValidationInfo) -> EntryFormat:
        channel = info.data.get("channel")
        if channel is not None and value not in FORMATS_BY_CHANNEL[channel]:
            raise ValueError(f"format {value} is not available on {channel}")
        return value


class CalendarIn(InputSchema):
    """The `calendar` object of a JSON export."""

    id: uuid.UUID | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    brief: dict[str, Any] = Field(default_factory=dict)
    latest_run_id: uuid.UUID | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return no_nul(value)

    @field_validator("created_at", "updated_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        return offset_or_none(value, "must carry a UTC offset")


def row_errors(row: int, exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as `{row, field, message}` (field in camelCase, like the file)."""
    out: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        message = str(err.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        out.append({"row": row, "field": ".".join(loc) or "entry", "message": message})
    return out
