"""The per-calendar entry cap (`MAX_ENTRIES_PER_CALENDAR`), checked by every path that adds
entries: generation (before a run starts, and at each insert), import (HTTP and CLI).

Exports, the feed and every read of a calendar cost time in proportion to its entries, so one
calendar must not grow without bound. Refusing happens before anything is written: an import
is all or nothing, a run that would overflow is refused before it starts, and a run that
overflows anyway (two runs at once on one calendar, a model that writes more than it announced)
stops at the batch that would cross the line, keeping what it saved. Calendars that already
hold more (an older import, a lowered limit) keep every entry and stay readable; they only
cannot grow.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from postplan.core.errors import AppError
from postplan.core.openapi import problem_response
from postplan.models import Calendar, CalendarEntry

#: OpenAPI entry for the operations that can answer it.
TOO_LARGE_RESPONSE: dict[str, object] = problem_response(
    413, "calendar_too_large: the calendar would hold more entries than "
         "MAX_ENTRIES_PER_CALENDAR (problem+json with limit, entryCount, adding); "
         "nothing was written")


class CalendarTooLarge(AppError):
    status_code = 413
    code = "calendar_too_large"
    title = "Calendar too large"


async def ensure_room(session: AsyncSession, user_id: str, calendar_id: uuid.UUID,
                      adding: int, limit: int | None) -> None:
    """Raise `CalendarTooLarge` (413) unless the calendar can take `adding` more entries.

    On Postgres the calendar row is locked first (until the caller's transaction ends), so two
    writers adding to one calendar at once are counted one after the other; SQLite has a
    single writer anyway. Call it before adding anything to the session: the count must not
    include (or autoflush) the rows being checked."""
    if limit is None or adding <= 0:
        return
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(Calendar.id).where(Calendar.id == calendar_id)
                              .with_for_update())
    held = int((await session.execute(
        select(func.count()).select_from(CalendarEntry).where(
            CalendarEntry.calendar_id == calendar_id, CalendarEntry.user_id == user_id,
            CalendarEntry.deleted_at.is_(None))
    )).scalar_one())
    check_room(held, adding, limit)


def check_room(held: int, adding: int, limit: int | None) -> None:
    """Raise `CalendarTooLarge` when `held + adding` entries would exceed `limit`."""
    if limit is not None and adding > 0 and held + adding > limit:
        raise CalendarTooLarge(
            f"the calendar holds {held} entries; adding {adding} would exceed the limit of "
            f"{limit} entries per calendar (MAX_ENTRIES_PER_CALENDAR)",
            extra={"limit": limit, "entryCount": held, "adding": adding},
        )
