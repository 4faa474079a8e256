"""The flat, immutable view of a calendar and its entries that every export format renders.

Rows are converted once, as they stream out of the database, so the format writers never touch
ORM objects and the same record renders byte-identically every time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from postplan.core.entryfields import EntryContent
from postplan.core.zones import in_zone


class EntryRow(EntryContent, Protocol):
    """What the exports read from a saved entry (the calendars domain's `CalendarEntry`): the
    content every boundary shares, and what saving adds."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def calendar_id(self) -> uuid.UUID: ...
    @property
    def run_id(self) -> uuid.UUID | None: ...
    @property
    def media(self) -> list[dict[str, Any]]: ...
    @property
    def channel_options(self) -> dict[str, Any]: ...
    @property
    def version(self) -> int: ...
    @property
    def edited(self) -> bool: ...
    @property
    def updated_at(self) -> dt.datetime: ...


class CalendarRow(Protocol):
    """What the exports read from a calendar."""

    id: uuid.UUID
    name: str
    brief: dict[str, Any]
    timezone: str
    latest_run_id: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime


@lru_cache(maxsize=64)
def uuid_text(value: uuid.UUID) -> str:
    """`str(uuid)`, cached: calendar and run ids repeat on every row of an export."""
    return str(value)




#: The first half of a media pair naming a file stored by postplan (the second is its id).
STORED = "stored"


def media_pair(item: dict[str, Any]) -> tuple[str, str]:
    """An entry row's media item as a pair: (STORED, id) or (type, url)."""
    if "mediaId" in item:
        return STORED, str(item["mediaId"])
    return str(item.get("type", "")), str(item.get("url", ""))


def media_json(pairs: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    """Media pairs as the Entry's `media` list: `{mediaId}` or `{url, type}`."""
    return [{"mediaId": ref} if kind == STORED else {"url": ref, "type": kind}
            for kind, ref in pairs]


def utc_iso(value: dt.datetime) -> str:
    """An instant as the API writes it: ISO 8601 in UTC with `+00:00`."""
    return value.astimezone(dt.UTC).isoformat()


@dataclass(frozen=True, slots=True)
class ExportEntry:
    """One entry, detached from the database."""

    id: str
    calendar_id: str
    run_id: str | None
    channel: str
    format: str
    scheduled_at: dt.datetime  # aware, in the entry's own zone
    timezone: str
    pillar: str
    hook: str
    caption: str
    hashtags: tuple[str, ...]
    call_to_action: str
    asset_notes: str
    #: (type, url) of a hosted file; (STORED, media id) of a file uploaded to postplan.
    media: tuple[tuple[str, str], ...]
    version: int
    edited: bool
    updated_at: dt.datetime  # aware UTC
    #: `channelOptions` as stored (camelCase), `{}` when none were chosen.
    channel_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: EntryRow) -> ExportEntry:
        """Copy the fields an export needs out of a saved entry."""
        return cls(
            id=str(row.id),
            calendar_id=uuid_text(row.calendar_id),
            run_id=None if row.run_id is None else uuid_text(row.run_id),
            channel=row.channel,
            format=row.format,
            # Never fails on a stored row (core.zones.in_zone): UTC when the zone cannot show it.
            scheduled_at=in_zone(row.scheduled_at, row.timezone),
            timezone=row.timezone,
            pillar=row.pillar,
            hook=row.hook,
            caption=row.caption,
            hashtags=tuple(row.hashtags or ()),
            call_to_action=row.call_to_action,
            asset_notes=row.asset_notes,
            media=tuple(media_pair(m) for m in row.media) if row.media else (),
            version=row.version,
            edited=row.edited,
            updated_at=row.updated_at.astimezone(dt.UTC),
            channel_options=dict(row.channel_options or {}),
        )

    def to_json(self) -> dict[str, Any]:
        """The Entry of docs/contract.md §2, camelCase, keys in a fixed order."""
        return {
            "id": self.id,
            "calendarId": self.calendar_id,
            "runId": self.run_id,
            "channel": self.channel,
            "format": self.format,
            "scheduledAt": self.scheduled_at.isoformat(),
            "timezone": self.timezone,
            "pillar": self.pillar,
            "hook": self.hook,
            "caption": self.caption,
            "hashtags": list(self.hashtags),
            "callToAction": self.call_to_action,
            "assetNotes": self.asset_notes,
            "media": media_json(self.media),
            "channelOptions": self.channel_options,
            "version": self.version,
            "edited": self.edited,
            "updatedAt": utc_iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class ExportCalendar:
    """A calendar's own fields, detached from the database."""

    id: str
    name: str
    brief: dict[str, Any]
    timezone: str
    latest_run_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: CalendarRow) -> ExportCalendar:
        """Copy a calendar's fields."""
        return cls(
            id=str(row.id),
            name=row.name,
            brief=dict(row.brief or {}),
            timezone=row.timezone,
            latest_run_id=None if row.latest_run_id is None else str(row.latest_run_id),
            created_at=row.created_at.astimezone(dt.UTC),
            updated_at=row.updated_at.astimezone(dt.UTC),
        )

    def to_json(self) -> dict[str, Any]:
        """The Calendar of docs/contract.md §2 (without entries), keys in a fixed order."""
        return {
            "id": self.id,
            "name": self.name,
            "timezone": self.timezone,
            "brief": self.brief,
            "latestRunId": self.latest_run_id,
            "createdAt": utc_iso(self.created_at),
            "updatedAt": utc_iso(self.updated_at),
        }
