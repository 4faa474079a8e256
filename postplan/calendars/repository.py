"""Every query on calendars, runs and entries, always scoped to one user."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import Row, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from postplan.core.pagination import keyset_page
from postplan.models import Calendar, CalendarEntry, CalendarRun, EntryRevision

#: (calendar id, user id, name, zone, updated_at, entry count, sum of entry versions,
#:  newest entry updated_at, newest entry created_at)
#: (the maxima are None for a calendar without entries)
FeedRevisionRow = Row[uuid.UUID, str, str, str, dt.datetime, int, int, dt.datetime, dt.datetime]


class CalendarRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: str, calendar_id: uuid.UUID) -> Calendar | None:
        stmt = select(Calendar).where(Calendar.id == calendar_id, Calendar.user_id == user_id,
                                      Calendar.deleted_at.is_(None))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def page(
        self, user_id: str, limit: int, after: tuple[dt.datetime, uuid.UUID] | None
    ) -> Sequence[Calendar]:
        stmt = keyset_page(select(Calendar).where(Calendar.user_id == user_id,
                                                  Calendar.deleted_at.is_(None)),
                           (Calendar.created_at, Calendar.id), after, limit, descending=True)
        return (await self.session.execute(stmt)).scalars().all()

    async def revision_by_feed_hash(self, token_hash: str) -> FeedRevisionRow | None:
        """One row: the calendar behind a feed token and a summary of its entries (count, sum
        of versions, newest update and insert) — a single aggregate query, no entry loaded."""
        stmt = (
            select(Calendar.id, Calendar.user_id, Calendar.name, Calendar.timezone,
                   Calendar.updated_at, func.count(CalendarEntry.id),
                   func.coalesce(func.sum(CalendarEntry.version), 0),
                   func.max(CalendarEntry.updated_at), func.max(CalendarEntry.created_at))
            .select_from(Calendar)
            .outerjoin(CalendarEntry, and_(CalendarEntry.calendar_id == Calendar.id,
                                           CalendarEntry.user_id == Calendar.user_id,
                                           CalendarEntry.deleted_at.is_(None)))
            .where(Calendar.feed_token_hash == token_hash, Calendar.deleted_at.is_(None))
            .group_by(Calendar.id, Calendar.user_id, Calendar.name, Calendar.timezone,
                      Calendar.updated_at)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return row

    async def get_run(self, user_id: str, run_id: uuid.UUID) -> CalendarRun | None:
        stmt = select(CalendarRun).where(CalendarRun.id == run_id, CalendarRun.user_id == user_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()


class EntryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(
        self, user_id: str, calendar_id: uuid.UUID, entry_id: uuid.UUID, *, for_update: bool = False
    ) -> CalendarEntry | None:
        stmt = select(CalendarEntry).where(
            CalendarEntry.id == entry_id,
            CalendarEntry.calendar_id == calendar_id,
            CalendarEntry.user_id == user_id,
            CalendarEntry.deleted_at.is_(None),
        )
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def page(
        self,
        user_id: str,
        calendar_id: uuid.UUID,
        limit: int | None,
        after: tuple[dt.datetime, uuid.UUID] | None = None,
        entry_ids: Sequence[uuid.UUID] | None = None,
    ) -> Sequence[CalendarEntry]:
        stmt = select(CalendarEntry).where(
            CalendarEntry.calendar_id == calendar_id, CalendarEntry.user_id == user_id,
            CalendarEntry.deleted_at.is_(None),
        )
        if entry_ids is not None:
            stmt = stmt.where(CalendarEntry.id.in_(entry_ids))
        stmt = keyset_page(stmt, (CalendarEntry.scheduled_at, CalendarEntry.id), after, limit)
        return (await self.session.execute(stmt)).scalars().all()

    async def iterate(
        self, user_id: str, calendar_id: uuid.UUID, batch: int = 1000
    ) -> AsyncIterator[CalendarEntry]:
        """All entries in `scheduledAt` order, read in keyset batches so memory stays flat."""
        after: tuple[dt.datetime, uuid.UUID] | None = None
        while True:
            rows = await self.page(user_id, calendar_id, batch, after)
            for row in rows:
                yield row
            if len(rows) < batch:
                return
            after = (rows[-1].scheduled_at, rows[-1].id)

    async def count(self, user_id: str, calendar_id: uuid.UUID) -> int:
        stmt = select(func.count()).select_from(CalendarEntry).where(
            CalendarEntry.calendar_id == calendar_id, CalendarEntry.user_id == user_id,
            CalendarEntry.deleted_at.is_(None),
        )
        return int((await self.session.execute(stmt)).scalar_one())

    def add_revision(self, entry: CalendarEntry, source: str) -> EntryRevision:
        revision = EntryRevision(
            entry_id=entry.id,
            calendar_id=entry.calendar_id,
            user_id=entry.user_id,
            version=entry.version,
            source=source,
            data=snapshot(entry),
        )
        self.session.add(revision)
        return revision

    async def revisions(self, user_id: str, entry_id: uuid.UUID) -> Sequence[EntryRevision]:
        stmt = (
            select(EntryRevision)
            .where(EntryRevision.entry_id == entry_id, EntryRevision.user_id == user_id)
            .order_by(EntryRevision.version)
        )
        return (await self.session.execute(stmt)).scalars().all()


EDITABLE_FIELDS = (
    "hook", "caption", "hashtags", "scheduled_at", "format", "pillar",
    "call_to_action", "asset_notes", "media",
)


def snapshot(entry: CalendarEntry) -> dict[str, object]:
    """The user-owned fields of an entry as JSON-ready values."""
    data: dict[str, object] = {}
    for name in EDITABLE_FIELDS:
        value = getattr(entry, name)
        data[name] = value.isoformat() if isinstance(value, dt.datetime) else value
    data["channel_options"] = entry.channel_options or {}
    return data
