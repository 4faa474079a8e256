"""HTTP shapes of the entries and calendars a person manages (DESIGN §9): add, duplicate, rename."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

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
    DATE_RANGE_TEXT,
    NOT_SPACE,
    Hashtag,
    IsoDateTime,
    IsoDateTimeAnyYear,
    NoNul,
)
from postplan.core.vocab import Channel, EntryFormat

#: A calendar's name: 1-200 characters, at least one of them not a space (trimmed).
CalendarName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NOT_SPACE,
                                                strip_whitespace=True), NoNul()]


class EntryCreate(EntryInput):
    """`POST /v1/calendars/{calendarId}/entries`: an entry added by hand (same limits as an
    edit; `channel`, `format` and `scheduledAt` are required)."""

    channel: Channel
    format: EntryFormat
    scheduled_at: IsoDateTimeAnyYear = Field(
        description=f"An instant with its UTC offset, {DATE_RANGE_TEXT}")
    hook: Hook = ""
    caption: Caption = ""
    hashtags: list[Hashtag] = Field(default_factory=list, max_length=MAX_HASHTAGS)
    pillar: Pillar = ""
    call_to_action: CallToAction = ""
    asset_notes: AssetNotes = ""
    media: list[Media] = Field(default_factory=list, max_length=MAX_MEDIA)
    channel_options: ChannelOptions | None = None


class EntryDuplicate(EntryInput):
    """`POST …/entries/{entryId}/duplicate`: optionally to another time, channel or format.

    A channel change keeps the format when the new channel offers it, else takes `format`
    (validated) or the nearest equivalent (video ↔ reel, photo ↔ image/carousel)."""

    scheduled_at: IsoDateTime | None = Field(
        None, description=f"An instant with its UTC offset, {DATE_RANGE_TEXT}")
    channel: Channel | None = None
    format: EntryFormat | None = None


class CalendarPatch(InputSchema):
    """`PATCH /v1/calendars/{calendarId}`: rename."""

    name: CalendarName
