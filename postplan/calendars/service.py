"""Calendars and entries: read the latest saved state, and edit it with optimistic locking.

Other domains (exports, publishing) read entries through the functions here, never the tables;
the writes exports make (imported entries, the feed token) are re-exported here from
`calendars.importing`, so this module is the calendars domain's whole public surface.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from postplan.calendars.entry_options import carry_edit
from postplan.calendars.entry_options import entry_options as entry_options  # for imports
from postplan.calendars.entry_reads import entry_now as entry_now  # re-exported for other domains
from postplan.calendars.entry_reads import entry_version_now as entry_version_now
from postplan.calendars.entry_reads import entry_versions as entry_versions
from postplan.calendars.importing import CalendarSpec as CalendarSpec
from postplan.calendars.importing import EntrySpec as EntrySpec
from postplan.calendars.importing import resolve_calendar as resolve_calendar
from postplan.calendars.importing import set_feed_token_hash as set_feed_token_hash
from postplan.calendars.importing import upsert_entries as upsert_entries
from postplan.calendars.limits import TOO_LARGE_RESPONSE as TOO_LARGE_RESPONSE
from postplan.calendars.media import check_owned
from postplan.calendars.media import described_media as described_media
from postplan.calendars.repository import CalendarRepository, EntryRepository
from postplan.calendars.schemas import EntryPatch
from postplan.core.db import begin_write
from postplan.core.entryfields import media_items
from postplan.core.errors import NotFound, PreconditionFailed, Unprocessable
from postplan.core.pagination import decode_cursor, split_page
from postplan.core.vocab import FORMATS_BY_CHANNEL, Channel
from postplan.models import Calendar, CalendarEntry, CalendarRun

#: What `If-Match` may hold: a version number, quoted or weak, or `*` (none means "any").
IF_MATCH_PATTERN = r'^(\*|(W/)?"?[0-9]{1,9}"?)?$'


async def get_calendar(session: AsyncSession, user_id: str, calendar_id: uuid.UUID) -> Calendar:
    """The user's calendar, or 404 (also for another user's id)."""
    calendar = await CalendarRepository(session).get(user_id, calendar_id)
    if calendar is None:
        raise NotFound("calendar not found", code="calendar_not_found")
    return calendar


@dataclass(frozen=True)
class CalendarRevision:
    """What identifies a calendar's current content without reading its entries.

    `key` changes whenever anything an export renders changes: the calendar row (name, zone,
    `updated_at`), an entry added or removed (count, newest `created_at`), an entry edited or
    re-imported (its `version` goes up and `updated_at` moves). `last_modified` is the newest
    of those timestamps. A path that deletes entries changes the count; it should also touch
    the calendar's `updated_at`, so `last_modified` moves with it."""

    calendar_id: uuid.UUID
    user_id: str
    key: str
    last_modified: dt.datetime


async def revision_by_feed_hash(session: AsyncSession,
                                token_hash: str) -> CalendarRevision | None:
    """The revision of the calendar whose feed token hashes to `token_hash` (one query)."""
    row = await CalendarRepository(session).revision_by_feed_hash(token_hash)
    if row is None:
        return None
    (calendar_id, user_id, name, timezone, updated_at, count, versions, entry_updated,
     entry_created) = row
    moments = [m for m in (updated_at, entry_updated, entry_created) if m is not None]
    # A digest, so a remembered key stays small whatever the calendar's name.
    key = hashlib.sha256(repr((calendar_id, name, timezone, updated_at, count, versions,
                               entry_updated, entry_created)).encode()).hexdigest()
    return CalendarRevision(calendar_id=calendar_id, user_id=user_id, key=key,
                            last_modified=max(moments))


async def list_calendars(
    session: AsyncSession, user_id: str, limit: int, cursor: str | None
) -> tuple[Sequence[Calendar], str | None]:
    """The user's calendars, newest first, keyset-paged."""
    rows = await CalendarRepository(session).page(user_id, limit + 1, decode_cursor(cursor))
    return split_page(rows, limit, lambda c: (c.created_at, c.id))


async def list_entries(
    session: AsyncSession,
    user_id: str,
    calendar_id: uuid.UUID,
    *,
    limit: int | None = None,
    cursor: str | None = None,
    entry_ids: Sequence[uuid.UUID] | None = None,
) -> tuple[Sequence[CalendarEntry], str | None]:
    """Latest saved entries ordered by `scheduledAt` (manual edits included)."""
    await get_calendar(session, user_id, calendar_id)
    repo = EntryRepository(session)
    fetch = None if limit is None else limit + 1
    rows = await repo.page(user_id, calendar_id, fetch, decode_cursor(cursor), entry_ids)
    return split_page(rows, limit, lambda e: (e.scheduled_at, e.id))


async def get_entry(session: AsyncSession, user_id: str, calendar_id: uuid.UUID,
                    entry_id: uuid.UUID) -> CalendarEntry:
    """One entry as last saved: 404 `calendar_not_found` for a calendar that is not the
    user's, `entry_not_found` for an unknown or deleted entry."""
    await get_calendar(session, user_id, calendar_id)
    entry = await EntryRepository(session).get(user_id, calendar_id, entry_id)
    if entry is None:
        raise NotFound("entry not found", code="entry_not_found")
    return entry


def iterate_entries(
    session: AsyncSession, user_id: str, calendar_id: uuid.UUID, batch: int = 1000
) -> AsyncIterator[CalendarEntry]:
    """Stream every entry of a calendar in order, in batches (for exports of any size)."""
    return EntryRepository(session).iterate(user_id, calendar_id, batch)


async def get_run(session: AsyncSession, user_id: str, run_id: uuid.UUID) -> CalendarRun:
    run = await CalendarRepository(session).get_run(user_id, run_id)
    if run is None:
        raise NotFound("run not found", code="run_not_found")
    return run


def parse_if_match(header: str | None) -> int | None:
    """`If-Match: 3`, `"3"` or `W/"3"` → 3; a malformed value is a client error.

    Only ASCII digits count: `str.isdigit()` also accepts `²` or `٣`, which `int()` refuses."""
    if header is None or header.strip() in {"", "*"}:
        return None
    if not re.fullmatch(IF_MATCH_PATTERN, header.strip()):
        raise Unprocessable("If-Match must be the entry's version number", code="invalid_if_match")
    value = header.strip().removeprefix("W/").strip('"')
    return int(value)


async def update_entry(
    session: AsyncSession,
    user_id: str,
    calendar_id: uuid.UUID,
    entry_id: uuid.UUID,
    patch: EntryPatch,
    expected_version: int | None,
) -> CalendarEntry:
    """Apply a manual edit; keep the previous state as a revision; bump the version."""
    await begin_write(session)  # read-then-write: SQLite must not fail on a concurrent writer
    repo = EntryRepository(session)
    entry = await repo.get(user_id, calendar_id, entry_id, for_update=True)
    if entry is None:
        raise NotFound("entry not found", code="entry_not_found")
    if expected_version is not None and expected_version != entry.version:
        raise PreconditionFailed(
            f"entry is at version {entry.version}, not {expected_version}",
            code="version_mismatch",
            extra={"currentVersion": entry.version},
            headers={"ETag": f'"{entry.version}"'},
        )
    changes = patch.model_dump(exclude_unset=True)
    if not changes:
        raise Unprocessable("the edit changes no field", code="empty_patch")
    for name, value in changes.items():
        if value is None:
            raise Unprocessable(f"{name} cannot be null", code="null_field",
                                extra={"errors": [{"field": name, "message": "cannot be null"}]})
    if "format" in changes and changes["format"] not in FORMATS_BY_CHANNEL[Channel(entry.channel)]:
        raise Unprocessable(
            f"format {changes['format']} is not available on {entry.channel}",
            code="invalid_format",
            extra={"errors": [{"field": "format", "message": "not available on this channel"}]},
        )
    if "media" in changes:
        changes["media"] = media_items(patch.media or [])
        await check_owned(session, user_id, changes["media"])
    if "channel_options" in changes:
        changes["channel_options"] = entry_options(entry.channel, patch.channel_options)
    if "caption" not in changes:
        # A generated caption embeds the hook (first paragraph) and the call to action (last):
        # an edit of either replaces its copy there, so the post says what the person wrote.
        caption = carry_edit(entry.caption, entry.hook, changes.get("hook"), first=True)
        caption = carry_edit(caption, entry.call_to_action, changes.get("call_to_action"),
                             first=False)
        if caption != entry.caption:
            changes["caption"] = caption
    if "scheduled_at" in changes:
        changes["scheduled_at"] = changes["scheduled_at"].astimezone(dt.UTC)
    if "format" in changes:
        changes["format"] = str(changes["format"])
    for name, value in changes.items():
        setattr(entry, name, value)
    entry.version += 1
    entry.edited = True
    repo.add_revision(entry, source="edit")
    await session.flush()
    return entry
