"""Writes the exports domain makes to the calendars' tables: imported entries and the ICS feed
token. Kept here so the tables have one owner; exports call these functions, never the models.

Imports are idempotent by entry id: an entry that already holds the same content is left alone
(no version bump), a changed one is updated like a manual edit (version + 1, a revision with
source `import`), a new one is inserted. An id that exists in another of the user's calendars is
never overwritten: that row is reported as an error. An id that belongs to another user is never
touched nor revealed: the row is imported as new under an id derived from the user and that id.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from postplan.calendars.limits import ensure_room
from postplan.calendars.repository import EntryRepository
from postplan.core.db import new_id, utcnow
from postplan.core.errors import Conflict, NotFound
from postplan.models import Calendar, CalendarEntry

_LOOKUP_CHUNK = 500
#: Namespace of the ids an import derives for ids that belong to another user.
_PRIVATE_IDS = uuid.UUID("5f1f3c1e-8d0a-4c39-9f55-2b7f0f6c1a42")


@dataclass(frozen=True)
class CalendarSpec:
    """A calendar to create when an import names one the user does not have yet."""

    id: uuid.UUID | None
    name: str
    timezone: str
    brief: dict[str, Any]
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True)
class EntrySpec:
    """One validated entry to write. `updated_at`/`version`/`edited` apply to inserts only."""

    row: int
    id: uuid.UUID
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
    media: list[dict[str, str]]
    version: int | None = None
    edited: bool | None = None
    updated_at: dt.datetime | None = None
    #: `channelOptions` as stored (camelCase); None when the file has none (left as it is).
    channel_options: dict[str, Any] | None = None


@dataclass
class ImportOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


_CONTENT_FIELDS = ("format", "timezone", "pillar", "hook", "caption", "hashtags",
                   "call_to_action", "asset_notes", "media")


def private_id(user_id: str, foreign_id: uuid.UUID) -> uuid.UUID:
    """The id an import uses in place of an id that belongs to another user.

    An import must not tell a user whether someone else's id exists: such an id is treated
    exactly like an unused one (the row is created, the answer is the same), only under this
    id instead — derived from (user, id), so importing the same file again finds the same row
    (`unchanged`), as it would for an id that was free."""
    return uuid.uuid5(_PRIVATE_IDS, f"{user_id}\x1f{foreign_id}")


async def resolve_calendar(
    session: AsyncSession, user_id: str, calendar_id: uuid.UUID | None,
    spec: CalendarSpec | None,
) -> tuple[Calendar, bool]:
    """The import's target: `calendar_id` (must be the user's, else 404), else the file's own
    calendar (reused when the user has it, created otherwise). Returns (calendar, created)."""
    if calendar_id is not None:
        found = await _own_calendar(session, user_id, calendar_id)
        if found is None:
            raise NotFound("calendar not found", code="calendar_not_found")
        return found, False
    if spec is None:
        raise NotFound("calendar not found", code="calendar_not_found")
    target_id: uuid.UUID | None = None
    if spec.id is not None:
        # One query whoever owns the file's id, so the answer's timing does not tell either.
        mapped = private_id(user_id, spec.id)
        stmt = select(Calendar).where(Calendar.id.in_([spec.id, mapped]))
        rows = {c.id: c for c in (await session.execute(stmt)).scalars()}
        target_id = spec.id
        for candidate in (spec.id, mapped):
            found = rows.get(candidate)
            if found is None:
                target_id = candidate
                break
            if found.user_id == user_id:
                return found, False
        else:
            target_id = None  # both ids held by others (a squatted derived id): a fresh one
    now = utcnow()
    calendar = Calendar(
        id=target_id or new_id(), user_id=user_id, name=spec.name, brief=spec.brief,
        timezone=spec.timezone, latest_run_id=None,
        created_at=spec.created_at or now, updated_at=spec.updated_at or now,
    )
    session.add(calendar)
    await session.flush()
    return calendar, True


async def _own_calendar(session: AsyncSession, user_id: str,
                        calendar_id: uuid.UUID) -> Calendar | None:
    stmt = select(Calendar).where(Calendar.id == calendar_id, Calendar.user_id == user_id,
                                  Calendar.deleted_at.is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


def _new_rows(user_id: str, file_ids: Sequence[uuid.UUID], mapped: dict[uuid.UUID, uuid.UUID],
              existing: dict[uuid.UUID, CalendarEntry]) -> int:
    """How many of `file_ids` the import would insert (see `upsert_entries`)."""
    count = 0
    for file_id in file_ids:
        row = existing.get(file_id)
        if row is not None and row.user_id != user_id:
            row = existing.get(mapped[file_id])
        if row is None:
            count += 1
    return count


async def upsert_entries(
    session: AsyncSession, user_id: str, calendar: Calendar, specs: Sequence[EntrySpec],
    max_entries: int | None = None,
) -> ImportOutcome:
    """Insert, update or leave each entry; report rows that cannot be written.

    `max_entries` (MAX_ENTRIES_PER_CALENDAR): when the new entries would take the calendar
    beyond it, the whole import is refused (413 `calendar_too_large`) before anything is
    written."""
    outcome = ImportOutcome()
    existing: dict[uuid.UUID, CalendarEntry] = {}
    file_ids = list(dict.fromkeys(s.id for s in specs))
    mapped = {i: private_id(user_id, i) for i in file_ids}
    # Every file id and its private twin are read, whoever owns them: the same statements run
    # whether or not an id belongs to someone else.
    ids = [*file_ids, *mapped.values()]
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start:start + _LOOKUP_CHUNK]
        stmt = select(CalendarEntry).where(CalendarEntry.id.in_(chunk)).with_for_update()
        for row in (await session.execute(stmt)).scalars():
            existing[row.id] = row
    # The rows that will be inserted: each distinct file id that names no entry of this user,
    # directly or (for another user's id) through its private twin. A repeated id counts once;
    # an id of another calendar of this user is refused below and adds nothing.
    await ensure_room(session, user_id, calendar.id, _new_rows(user_id, file_ids, mapped, existing),
                      max_entries)
    revise: list[CalendarEntry] = []
    seen: set[uuid.UUID] = set()
    for spec in specs:
        if spec.id in seen:
            outcome.errors.append({"row": spec.row, "field": "id",
                                   "message": "the same entry id appears twice in the file"})
            continue
        seen.add(spec.id)
        target_id = spec.id
        current = existing.get(spec.id)
        if current is not None and current.user_id != user_id:
            # Another user's id: behave exactly as for an unused id (see private_id).
            target_id = mapped[spec.id]
            current = existing.get(target_id)
            if current is not None and current.user_id != user_id:
                target_id, current = new_id(), None
        if current is None:
            entry = _new_entry(spec, user_id, calendar.id, target_id)
            session.add(entry)
            revise.append(entry)
            outcome.created += 1
            continue
        if current.calendar_id != calendar.id:
            outcome.errors.append({"row": spec.row, "field": "id",
                                   "message": "this entry id belongs to another calendar"})
            continue
        if current.channel != spec.channel:
            outcome.errors.append({"row": spec.row, "field": "channel",
                                   "message": "an existing entry's channel cannot change"})
            continue
        changes = _changes(current, spec)
        if not changes:
            outcome.unchanged += 1
            continue
        for name, value in changes.items():
            setattr(current, name, value)
        current.version += 1
        current.edited = True
        revise.append(current)
        outcome.updated += 1
    try:
        # Entries first, then their revisions (which reference them by foreign key).
        await session.flush()
        repo = EntryRepository(session)
        for entry in revise:
            repo.add_revision(entry, source="import")
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("another import wrote the same entries at the same time; retry",
                       code="import_conflict") from exc
    return outcome


def _new_entry(spec: EntrySpec, user_id: str, calendar_id: uuid.UUID,
               entry_id: uuid.UUID) -> CalendarEntry:
    now = utcnow()
    return CalendarEntry(
        id=entry_id, calendar_id=calendar_id, run_id=None, user_id=user_id, seq=0,
        channel=spec.channel, format=spec.format,
        scheduled_at=spec.scheduled_at.astimezone(dt.UTC), timezone=spec.timezone,
        pillar=spec.pillar, hook=spec.hook, caption=spec.caption, hashtags=list(spec.hashtags),
        call_to_action=spec.call_to_action, asset_notes=spec.asset_notes,
        media=[dict(m) for m in spec.media], version=spec.version or 1,
        channel_options=dict(spec.channel_options or {}),
        edited=bool(spec.edited), created_at=now,
        # Keeping the file's updatedAt makes export → import → export reproduce the same file.
        updated_at=spec.updated_at or now,
    )


def _changes(current: CalendarEntry, spec: EntrySpec) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in _CONTENT_FIELDS:
        value = getattr(spec, name)
        if getattr(current, name) != value:
            changes[name] = list(value) if isinstance(value, list) else value
    if spec.channel_options is not None and current.channel_options != spec.channel_options:
        changes["channel_options"] = dict(spec.channel_options)
    moment = spec.scheduled_at.astimezone(dt.UTC)
    if current.scheduled_at != moment:
        changes["scheduled_at"] = moment
    return changes


async def set_feed_token_hash(session: AsyncSession, user_id: str, calendar_id: uuid.UUID,
                              token_hash: str | None) -> None:
    """Store (or clear, with None) the sha256 of a calendar's feed token.

    `updated_at` is kept as it is: a feed token is not calendar content, and exports carry
    the calendar's `updatedAt`, which must not change when a token is rotated.
    """
    stmt = (
        update(Calendar)
        .where(Calendar.id == calendar_id, Calendar.user_id == user_id)
        .values(feed_token_hash=token_hash, updated_at=Calendar.updated_at)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    if getattr(result, "rowcount", 0) == 0:
        raise NotFound("calendar not found", code="calendar_not_found")
