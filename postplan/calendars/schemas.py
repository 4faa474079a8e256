"""HTTP shapes of calendars and entries (docs/contract.md §2)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import (
    ConfigDict,
    Field,
    field_serializer,
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
from postplan.core.schemas import Schema
from postplan.core.validators import (
    DATE_RANGE_TEXT,
    Hashtag,
    IsoDateTime,
)
from postplan.core.vocab import EntryFormat
from postplan.core.zones import in_zone


def to_local(value: dt.datetime, tz: str) -> dt.datetime:
    """An instant shown with the offset its zone has at that instant (never raises: a stored
    value that cannot be shown in its zone is shown in UTC, see core.zones.in_zone)."""
    return in_zone(value, tz)


class EntryOut(Schema):
    id: uuid.UUID
    calendar_id: uuid.UUID
    run_id: uuid.UUID | None
    channel: str
    format: str
    scheduled_at: dt.datetime
    timezone: str
    pillar: str
    hook: str
    caption: str
    hashtags: list[str]
    call_to_action: str
    asset_notes: str
    media: list[dict[str, Any]]
    channel_options: dict[str, Any] = Field(default_factory=dict)
    version: int
    edited: bool
    updated_at: dt.datetime

    @field_validator("channel_options", mode="before")
    @classmethod
    def _no_options(cls, value: Any) -> Any:
        # A row built but not yet flushed (a run's entries) holds None until the table's default.
        return {} if value is None else value

    @field_serializer("scheduled_at")
    def _local(self, value: dt.datetime) -> str:
        return to_local(value, self.timezone).isoformat()

    @field_serializer("updated_at")
    def _utc(self, value: dt.datetime) -> str:
        return value.astimezone(dt.UTC).isoformat()


class CalendarOut(Schema):
    id: uuid.UUID
    name: str
    brief: dict[str, Any]
    timezone: str
    latest_run_id: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @field_serializer("created_at", "updated_at")
    def _utc(self, value: dt.datetime) -> str:
        return value.astimezone(dt.UTC).isoformat()


class CalendarWithEntries(CalendarOut):
    entries: list[EntryOut]


def _omittable_not_null(schema: dict[str, Any]) -> None:
    """Document every field as optional but never null: `null` is refused (`null_field`)."""
    for prop in schema.get("properties", {}).values():
        options = prop.get("anyOf")
        if isinstance(options, list):
            kept = [o for o in options if o != {"type": "null"}]
            if len(kept) == 1:
                del prop["anyOf"]
                prop.update(kept[0])
            else:
                prop["anyOf"] = kept
        prop.pop("default", None)
    schema["minProperties"] = 1  # an empty edit is refused (`empty_patch`)


class EntryPatch(EntryInput):
    """A manual edit: any subset of the fields a user owns."""

    model_config = ConfigDict(json_schema_extra=_omittable_not_null)

    # Every field may be left out; none may be null (the schema says so, and an explicit null
    # is refused with `null_field`).
    hook: Hook | None = None
    caption: Caption | None = None
    hashtags: list[Hashtag] | None = Field(None, max_length=MAX_HASHTAGS)
    scheduled_at: IsoDateTime | None = Field(
        None, description=f"An instant with its UTC offset, {DATE_RANGE_TEXT}")
    format: EntryFormat | None = None
    pillar: Pillar | None = None
    call_to_action: CallToAction | None = None
    asset_notes: AssetNotes | None = None
    media: list[Media] | None = Field(None, max_length=MAX_MEDIA)
    #: Replaces the entry's options for the channels it names (a block set to `{}` clears).
    channel_options: ChannelOptions | None = None
