"""The fields of an Entry (docs/contract.md §2), declared once for every boundary that carries one.

An entry crosses four boundaries: the generator's output (`generation.schemas.EntryDraft`), the
HTTP input of an edit or an import (`calendars.schemas.EntryPatch`, `exports.import_rows.EntryIn`),
the saved row its readers see (`calendars.schemas.EntryOut`, `exports.records.EntryRow`), and the
table (`models.CalendarEntry`). Each boundary declares the list once, from the pieces here: the
content every boundary shares (`EntryContent`) and the limits a user's input is
held to (`EntryInput` and its field types). What a saved entry adds (its ids, version, media) is
the calendars domain's, declared by its readers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    AnyHttpUrl,
    Discriminator,
    StringConstraints,
    Tag,
    UrlConstraints,
    field_validator,
    model_validator,
)

from postplan.core.schemas import InputSchema
from postplan.core.validators import (
    NoNul,
    clean_hashtags,
    moment_in_range,
    no_nul_or_none,
    offset_or_none,
)

#: The free-text fields of the content (NUL refused, lengths capped on input).
TEXT_FIELDS = ("pillar", "hook", "caption", "call_to_action", "asset_notes")


class EntryContent(Protocol):
    """The content of an entry as any boundary holds it (a draft, a saved row, an import)."""

    @property
    def channel(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def scheduled_at(self) -> dt.datetime: ...
    @property
    def timezone(self) -> str: ...
    @property
    def pillar(self) -> str: ...
    @property
    def hook(self) -> str: ...
    @property
    def caption(self) -> str: ...
    @property
    def hashtags(self) -> list[str]: ...
    @property
    def call_to_action(self) -> str: ...
    @property
    def asset_notes(self) -> str: ...


# -- input: the limits a user's edit or import is held to ---------------------------------------

Pillar = Annotated[str, StringConstraints(max_length=80), NoNul()]
Hook = Annotated[str, StringConstraints(max_length=300), NoNul()]
Caption = Annotated[str, StringConstraints(max_length=4000), NoNul()]
CallToAction = Annotated[str, StringConstraints(max_length=300), NoNul()]
AssetNotes = Annotated[str, StringConstraints(max_length=2000), NoNul()]
#: Hashtags and media items one entry may hold.
MAX_HASHTAGS = 30
MAX_MEDIA = 35

#: A media link as a post may carry it: http(s), at most 2,048 characters.
MediaUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=2048)]


class HostedMedia(InputSchema):
    """A file hosted elsewhere: the platform pulls `url` itself."""

    url: MediaUrl
    type: Literal["image", "video"]


#: What a read of an entry adds to a stored item (`calendars.media`): sent back unchanged by a
#: client that edits the list it read, they are dropped, not refused.
STORED_MEDIA_READ_ONLY = frozenset({"kind", "status", "filename", "contentType", "thumbnailUrl",
                                    "check", "error"})


class StoredMedia(InputSchema):
    """A file uploaded to postplan (`POST /v1/media`), by its id."""

    media_id: uuid.UUID

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, value: Any) -> Any:
        if isinstance(value, dict) and ("mediaId" in value or "media_id" in value):
            return {k: v for k, v in value.items() if k not in STORED_MEDIA_READ_ONLY}
        return value


def _media_kind(value: Any) -> str:
    # Pick the member from the item's keys so only that member reports what is wrong
    # (`media.0.url`), not every member of the union. The tags hold "[" so the
    # validation-error handler drops them from a problem's field path.
    if isinstance(value, StoredMedia) or (
            isinstance(value, Mapping) and ("mediaId" in value or "media_id" in value)):
        return "[stored]"
    return "[hosted]"


#: One media item of an entry, in order: an uploaded file or a hosted one.
Media = Annotated[Annotated[StoredMedia, Tag("[stored]")] | Annotated[HostedMedia, Tag("[hosted]")],
                  Discriminator(_media_kind)]


def media_items(items: Sequence[StoredMedia | HostedMedia]) -> list[dict[str, str]]:
    """Media items as an entry row stores them: `{mediaId}` or `{url, type}`."""
    return [{"mediaId": str(m.media_id)} if isinstance(m, StoredMedia)
            else {"url": str(m.url), "type": m.type} for m in items]


def stored_media_id(item: Mapping[str, Any]) -> uuid.UUID | None:
    """The id of a stored item of an entry row's `media` list (None for a hosted file or an
    item that does not hold a valid id)."""
    raw = item.get("mediaId")
    if not isinstance(raw, str):
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


class EntryInput(InputSchema):
    """The rules every input of entry content follows, whichever fields a model declares (an
    edit has them all optional, an import requires some): text without NUL, hashtags cleaned of
    their `#`, instants with a UTC offset inside the supported range."""

    @field_validator(*TEXT_FIELDS, check_fields=False)
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return no_nul_or_none(value)

    @field_validator("hashtags", check_fields=False)
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else clean_hashtags(value)

    @field_validator("scheduled_at", "updated_at", check_fields=False)
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        return moment_in_range(offset_or_none(value))
