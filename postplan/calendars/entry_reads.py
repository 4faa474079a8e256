"""Entry reads another domain embeds in its own statements, written once against calendars' tables.

The publish worker sends what the user sees now, so it reads entries at two moments: every claim
reads the current version of each claimed intent's entry inside the claim's own statement (one
round trip per batch, however many intents), and a job whose entry changed since it was queued
reads the entry again. Calendars owns the entry and calendar tables, so those reads are built
here and reach other domains through `calendars.service`; callers only bind them to their rows.

An entry counts only while it is not deleted and its calendar still belongs to the entry's
user (and is not deleted): the same rows
`service.list_entries` returns for that id.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from postplan.models import Calendar, CalendarEntry

_calendars = cast(Table, Calendar.__table__)
_entries = cast(Table, CalendarEntry.__table__)

__all__ = ["entry_now", "entry_version_now", "entry_versions"]


def entry_version_now(entry_id: ColumnElement[Any], calendar_id: ColumnElement[Any],
                      user_id: ColumnElement[Any]) -> Select[Any]:
    """The saved version of the entry the given columns name: one row, none when the entry or
    its calendar is gone.

    For use inside the caller's statement, bound to the caller's own columns: e.g.
    `entry_version_now(t.c.entry_id, t.c.calendar_id, t.c.user_id).correlate(t)
    .scalar_subquery()` reads it per row of `t` in the same statement (NULL when gone).
    """
    e, cal = _entries.c, _calendars.c
    # Correlated to the caller's row (not only to this select): left to auto-correlation the
    # EXISTS would range over the caller's whole table.
    owned = (exists().where(cal.id == calendar_id, cal.user_id == user_id,
                            cal.deleted_at.is_(None))
             .correlate_except(_calendars))
    return (select(e.version)
            .where(e.id == entry_id, e.calendar_id == calendar_id, e.user_id == user_id,
                   e.deleted_at.is_(None), owned))


def entry_versions(entry_ids: Sequence[uuid.UUID]) -> Select[Any]:
    """`(id, calendar_id, user_id, version)` of those of `entry_ids` whose calendar belongs to
    the entry's user; for a caller that cannot correlate (SQLite's RETURNING), run in its own
    transaction."""
    e, cal = _entries.c, _calendars.c
    return (select(e.id, e.calendar_id, e.user_id, e.version)
            .join(_calendars, and_(cal.id == e.calendar_id, cal.user_id == e.user_id,
                                   cal.deleted_at.is_(None)))
            .where(e.id.in_(list(entry_ids)), e.deleted_at.is_(None)))


#: Built once: the worker reads it for every intent whose entry changed. One round trip, the
#: calendar's ownership check riding along as EXISTS.
_ENTRY_NOW = select(CalendarEntry).where(
    CalendarEntry.id == bindparam("entry_id", type_=CalendarEntry.id.type),
    CalendarEntry.calendar_id == bindparam("calendar_id", type_=CalendarEntry.calendar_id.type),
    CalendarEntry.user_id == bindparam("user_id", type_=CalendarEntry.user_id.type),
    CalendarEntry.deleted_at.is_(None),
    exists().where(Calendar.id == bindparam("calendar_id", type_=Calendar.id.type),
                   Calendar.user_id == bindparam("user_id", type_=Calendar.user_id.type),
                   Calendar.deleted_at.is_(None)))


async def entry_now(session: AsyncSession, user_id: str, calendar_id: uuid.UUID,
                    entry_id: uuid.UUID) -> CalendarEntry | None:
    """The entry as saved now, or None when it (or its calendar) is gone."""
    return (await session.execute(_ENTRY_NOW, {
        "entry_id": entry_id, "calendar_id": calendar_id, "user_id": user_id,
    })).scalar_one_or_none()
