"""Entries and calendars a person manages (DESIGN §9): add an entry by hand, delete it, duplicate
it; rename and delete a calendar.

Deleting never loses data: an entry or calendar is marked `deleted_at` and leaves every list,
export and feed, while its revisions, intents and attempts stay readable. Its pending publish
intents are cancelled in the same transaction, through the publishing domain's public module.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from postplan.calendars.entry_options import entry_options
from postplan.calendars.limits import ensure_room
from postplan.calendars.manage_schemas import CalendarPatch, EntryCreate, EntryDuplicate
from postplan.calendars.media import check_owned
from postplan.calendars.repository import EntryRepository
from postplan.calendars.service import get_calendar
from postplan.config import Settings
from postplan.core.db import begin_write, utcnow
from postplan.core.entryfields import media_items
from postplan.core.errors import NotFound, Unprocessable
from postplan.core.vocab import FORMATS_BY_CHANNEL, Channel, EntryFormat
from postplan.models import Calendar, CalendarEntry
from postplan.publishing.intake import service as publishing

#: The nearest format on the other channel, for a duplicate that changes channel.
_EQUIVALENT: dict[str, dict[str, str]] = {
    "instagram": {"video": "reel", "photo": "carousel"},
    "tiktok": {"reel": "video", "story": "video", "carousel": "photo", "image": "photo"},
}


def _format_for(channel: str, current: str, wanted: EntryFormat | None) -> str:
    """The format a copy on `channel` gets: `wanted` if valid there, else `current` if valid,
    else its equivalent; an explicit format the channel does not offer is 422."""
    offered = {f.value for f in FORMATS_BY_CHANNEL[Channel(channel)]}
    if wanted is not None:
        if wanted.value not in offered:
            raise Unprocessable(
                f"format {wanted.value} is not available on {channel}", code="invalid_format",
                extra={"errors": [{"field": "format", "message": "not available on this channel"}]})
        return wanted.value
    if current in offered:
        return current
    return _EQUIVALENT[channel][current]


async def _entry(session: AsyncSession, user_id: str, calendar_id: uuid.UUID,
                 entry_id: uuid.UUID) -> CalendarEntry:
    entry = await EntryRepository(session).get(user_id, calendar_id, entry_id, for_update=True)
    if entry is None:
        raise NotFound("entry not found", code="entry_not_found")
    return entry


async def create_entry(session: AsyncSession, settings: Settings, user_id: str,
                       calendar_id: uuid.UUID, body: EntryCreate) -> CalendarEntry:
    """Add an entry by hand (`runId` null, version 1, a `manual` revision)."""
    await begin_write(session)
    calendar = await get_calendar(session, user_id, calendar_id)
    _format_for(body.channel.value, body.format.value, body.format)
    await ensure_room(session, user_id, calendar_id, 1,
                              settings.max_entries_per_calendar)
    media = media_items(body.media)
    await check_owned(session, user_id, media)  # another user's or an unknown file: 404
    entry = CalendarEntry(
        id=uuid.uuid4(), calendar_id=calendar.id, run_id=None, user_id=user_id, seq=0,
        channel=body.channel.value, format=body.format.value,
        scheduled_at=body.scheduled_at.astimezone(dt.UTC), timezone=calendar.timezone,
        pillar=body.pillar, hook=body.hook, caption=body.caption, hashtags=body.hashtags,
        call_to_action=body.call_to_action, asset_notes=body.asset_notes,
        media=media, channel_options=entry_options(body.channel.value, body.channel_options),
        version=1, edited=True,
    )
    session.add(entry)
    await session.flush()
    EntryRepository(session).add_revision(entry, source="manual")
    calendar.updated_at = utcnow()
    await session.flush()
    return entry


async def duplicate_entry(session: AsyncSession, settings: Settings, user_id: str,
                          calendar_id: uuid.UUID, entry_id: uuid.UUID,
                          body: EntryDuplicate) -> CalendarEntry:
    """A copy of an entry as saved now, optionally at another time or on another channel."""
    await begin_write(session)
    calendar = await get_calendar(session, user_id, calendar_id)
    source = await _entry(session, user_id, calendar_id, entry_id)
    channel = body.channel.value if body.channel is not None else source.channel
    fmt = _format_for(channel, source.format, body.format)
    await ensure_room(session, user_id, calendar_id, 1,
                              settings.max_entries_per_calendar)
    at = body.scheduled_at.astimezone(dt.UTC) if body.scheduled_at else source.scheduled_at
    copy = CalendarEntry(
        id=uuid.uuid4(), calendar_id=calendar_id, run_id=None, user_id=user_id, seq=0,
        channel=channel, format=fmt, scheduled_at=at, timezone=source.timezone,
        pillar=source.pillar, hook=source.hook, caption=source.caption,
        hashtags=list(source.hashtags), call_to_action=source.call_to_action,
        asset_notes=source.asset_notes, media=[dict(m) for m in source.media],
        # Posting choices belong to a channel: kept on a copy to the same channel only.
        channel_options=dict(source.channel_options or {}) if channel == source.channel else {},
        version=1, edited=True,
    )
    session.add(copy)
    await session.flush()
    EntryRepository(session).add_revision(copy, source="duplicate")
    calendar.updated_at = utcnow()
    await session.flush()
    return copy


async def delete_entry(session: AsyncSession, user_id: str, calendar_id: uuid.UUID,
                       entry_id: uuid.UUID) -> int:
    """Mark the entry deleted (a `delete` revision keeps its last state) and cancel its pending
    intents; returns how many intents were cancelled."""
    await begin_write(session)
    calendar = await get_calendar(session, user_id, calendar_id)
    entry = await _entry(session, user_id, calendar_id, entry_id)
    now = utcnow()
    entry.version += 1
    entry.deleted_at = now
    EntryRepository(session).add_revision(entry, source="delete")
    # The feed's revision counts entries; moving the calendar's clock moves Last-Modified too.
    calendar.updated_at = now
    await session.flush()
    return await publishing.cancel_pending(session, user_id, entry_ids=[entry_id],
                                           reason="entry_deleted")


async def rename_calendar(session: AsyncSession, user_id: str, calendar_id: uuid.UUID,
                          body: CalendarPatch) -> Calendar:
    """Give a calendar a new name."""
    await begin_write(session)
    calendar = await get_calendar(session, user_id, calendar_id)
    calendar.name = body.name
    calendar.updated_at = utcnow()
    await session.flush()
    return calendar


async def delete_calendar(session: AsyncSession, user_id: str, calendar_id: uuid.UUID) -> int:
    """Mark a calendar deleted and cancel its pending intents (published history stays);
    returns how many intents were cancelled."""
    await begin_write(session)
    calendar = await get_calendar(session, user_id, calendar_id)
    now = utcnow()
    calendar.deleted_at = now
    calendar.updated_at = now
    await session.flush()
    return await publishing.cancel_pending(session, user_id, calendar_id=calendar_id,
                                           reason="calendar_deleted")


__all__ = ["create_entry", "delete_calendar", "delete_entry",
           "duplicate_entry", "rename_calendar"]
