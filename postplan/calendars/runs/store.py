"""Storage of generation runs: the run row, its entries (with revisions), heartbeats, settling.

Every method opens its own short session: a run outlives the request that started it, and a
stream that tails it must never hold a connection between events.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from postplan.calendars.limits import check_room, ensure_room
from postplan.calendars.repository import CalendarRepository, snapshot
from postplan.calendars.runs.limits import RunLimit, too_many_runs
from postplan.calendars.runs.mapping import RunRef, brief_json, calendar_name, draft_to_entry
from postplan.calendars.runs.states import RunStatus
from postplan.core.db import begin_write, utcnow
from postplan.core.db import writer as write_engine
from postplan.core.errors import NotFound
from postplan.generation.schemas import Brief, EntryDraft
from postplan.models import Calendar, CalendarEntry, CalendarRun, EntryRevision
from postplan.notifications import outbox


@dataclass(frozen=True)
class RunPoll:
    """What a tail needs to know about a run on each poll."""

    status: str
    entry_count: int
    error: dict[str, Any] | None


def user_lock_key(user_id: str) -> int:
    """A stable signed 64-bit key for Postgres advisory locks on one user's runs (the same in
    every process, unlike Python's `hash`)."""
    digest = hashlib.blake2b(f"postplan.runs:{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_ENTRY_COLUMNS = tuple(c.key for c in CalendarEntry.__mapper__.column_attrs)


def _entry_values(entry: CalendarEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in _ENTRY_COLUMNS}


class RunStore:
    """Run and entry persistence on one sessionmaker.

    On SQLite every write goes through one connection the store keeps open, one unit of work
    at a time: SQLite has a single writer anyway, and opening a connection (a thread plus
    pragmas) would cost more than the write. On Postgres each write takes a pooled session."""

    def __init__(self, maker: async_sessionmaker[AsyncSession],
                 keep_connection: bool | None = None,
                 max_entries: int | None = None) -> None:
        self.maker = maker
        self.max_entries = max_entries  # per calendar (MAX_ENTRIES_PER_CALENDAR); None: no cap
        engine = maker.kw.get("bind")
        self.engine: AsyncEngine | None = engine if isinstance(engine, AsyncEngine) else None
        if keep_connection is None:
            keep_connection = self.engine is not None and self.engine.dialect.name == "sqlite"
        self.keep_connection = keep_connection and self.engine is not None
        self._lock = asyncio.Lock()
        self._connection: AsyncConnection | None = None
        self._writer: AsyncSession | None = None

    def unit_of_work(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A writing session for one unit of work (the caller commits), as the store's own."""
        return self._session()

    async def check_running(self, session: AsyncSession, user_id: str, limit: RunLimit,
                            now: dt.datetime) -> None:
        """429 `too_many_runs` when the user already has `limit` runs running (see create)."""
        await begin_write(session)
        await self._check_running(session, user_id, limit, now)

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        """A session for one unit of work; the caller commits."""
        if not self.keep_connection or self.engine is None:
            async with self.maker() as session:
                await begin_write(session)  # every unit of work here writes
                yield session
            return
        async with self._lock:
            if self._writer is None:
                # Write lock at BEGIN: `create` and `sweep` read before they write.
                self._connection = await write_engine(self.engine).connect()
                self._writer = AsyncSession(bind=self._connection, expire_on_commit=False)
            writer = self._writer
            try:
                yield writer
                writer.expunge_all()  # nothing cached across units of work
            except BaseException:
                try:
                    await writer.rollback()
                except Exception:
                    await self._drop_writer()  # a broken connection: open a new one next time
                raise

    async def _drop_writer(self) -> None:
        writer, connection = self._writer, self._connection
        self._writer = self._connection = None
        with contextlib.suppress(Exception):
            if writer is not None:
                await writer.close()
        with contextlib.suppress(Exception):
            if connection is not None:
                await connection.close()

    async def close(self) -> None:
        """Close the kept connection (at shutdown, before the engine is disposed)."""
        async with self._lock:
            await self._drop_writer()

    async def create(self, user_id: str, brief: Brief, *, mode: str, expected_entries: int,
                     model: str | None, first: EntryDraft | None = None,
                     limit: RunLimit | None = None) -> tuple[RunRef, list[CalendarEntry]]:
        """Commit the run row (and a new calendar unless the brief names one) before streaming.

        `first`, when the generator already has it, is saved as seq 1 in the same commit (one
        round of writes less before the first entry reaches the client). Another user's
        calendarId is answered 404, like every other object. With a `limit`, a user who
        already has that many runs running gets 429 `too_many_runs` and nothing is written."""
        now = utcnow()
        stored = brief_json(brief)
        run_id = uuid.uuid4()
        async with self._session() as session:
            # Read-then-write: SQLite takes its write lock first (so a concurrent writer
            # cannot fail this transaction, and two processes count one after the other).
            await begin_write(session)
            if limit is not None:
                await self._check_running(session, user_id, limit, now)
            if brief.calendar_id is not None:
                calendar = await CalendarRepository(session).get(user_id, brief.calendar_id)
                if calendar is None:
                    raise NotFound("calendar not found", code="calendar_not_found")
                # A run that would overflow the calendar is refused before it starts.
                await ensure_room(session, user_id, calendar.id, expected_entries,
                                  self.max_entries)
            else:
                check_room(0, expected_entries, self.max_entries)
                calendar = Calendar(id=uuid.uuid4(), user_id=user_id, name=calendar_name(brief),
                                    brief=stored, timezone=brief.timezone, created_at=now,
                                    updated_at=now, latest_run_id=run_id)
                session.add(calendar)
            run = CalendarRun(id=run_id, calendar_id=calendar.id, user_id=user_id,
                              mode=mode, status=RunStatus.running.value, dry_run=False,
                              brief=stored, expected_entries=expected_entries,
                              entry_count=0 if first is None else 1,
                              model=model, heartbeat_at=now, created_at=now, updated_at=now)
            session.add(run)
            calendar.latest_run_id = run_id
            calendar.updated_at = now
            ref = RunRef(run_id, calendar.id, user_id, mode, False, expected_entries)
            rows: list[CalendarEntry] = []
            if first is not None:
                await session.flush()  # the run row before the entry that refers to it
                rows = [draft_to_entry(ref, first, 1, now=now)]
                await self._insert_entries(session, rows, now, check=False)  # checked above
            await session.commit()
            return ref, rows

    @staticmethod
    async def _check_running(session: AsyncSession, user_id: str, limit: RunLimit,
                             now: dt.datetime) -> None:
        """Refuse one run too many, counting in the transaction that would create it."""
        bind = session.get_bind()
        if bind.dialect.name == "postgresql":
            # Two processes creating runs for one user at once must count one after the
            # other: the lock is held until this transaction commits its run row.
            await session.execute(select(func.pg_advisory_xact_lock(user_lock_key(user_id))))
        running = await session.scalar(
            select(func.count()).select_from(CalendarRun).where(
                CalendarRun.user_id == user_id,
                CalendarRun.status == RunStatus.running.value,
                CalendarRun.heartbeat_at >= now - limit.stale_after,
            )
        )
        if (running or 0) >= limit.max_running:
            raise too_many_runs(limit.max_running)

    async def _insert_entries(self, session: AsyncSession, rows: list[CalendarEntry],
                              now: dt.datetime, *, check: bool = True) -> None:
        if check and rows:
            # The calendar's entry cap, at the one place generated entries are inserted.
            await ensure_room(session, rows[0].user_id, rows[0].calendar_id, len(rows),
                              self.max_entries)
        # ORM bulk INSERTs, no unit of work per object: the stream waits on this commit. The
        # revision rows hold the same `snapshot()` EntryRepository.add_revision would store.
        await session.execute(insert(CalendarEntry), [_entry_values(r) for r in rows])
        await session.execute(insert(EntryRevision), [
            {"id": uuid.uuid4(), "entry_id": r.id, "calendar_id": r.calendar_id,
             "user_id": r.user_id, "version": r.version, "source": "generated",
             "data": snapshot(r), "created_at": now} for r in rows])

    async def save_entries(self, ref: RunRef, drafts: Sequence[EntryDraft],
                           first_seq: int) -> list[CalendarEntry]:
        """Save drafts (entry + `generated` revision each) and the run's count in one commit."""
        now = utcnow()
        rows = [draft_to_entry(ref, d, first_seq + i, now=now) for i, d in enumerate(drafts)]
        async with self._session() as session:
            await self._insert_entries(session, rows, now)
            await session.execute(
                update(CalendarRun)
                .where(CalendarRun.id == ref.run_id)
                .values(entry_count=first_seq + len(rows) - 1, heartbeat_at=now, updated_at=now)
            )
            await session.commit()
        return rows

    async def heartbeat(self, run_id: uuid.UUID) -> None:
        """Show the run is alive (the sweeper settles runs whose heartbeat goes stale)."""
        now = utcnow()
        async with self._session() as session:
            await session.execute(
                update(CalendarRun)
                .where(CalendarRun.id == run_id, CalendarRun.status == RunStatus.running.value)
                .values(heartbeat_at=now)
            )
            await session.commit()

    async def finish(self, run_id: uuid.UUID, status: RunStatus, entry_count: int,
                     error: dict[str, Any] | None) -> None:
        """Settle a run; a run already settled (e.g. by the sweeper) is left as it is."""
        now = utcnow()
        async with self._session() as session:
            settled = (await session.execute(
                update(CalendarRun)
                .where(CalendarRun.id == run_id, CalendarRun.status == RunStatus.running.value)
                .values(status=status.value, entry_count=entry_count, error=error,
                        finished_at=now, heartbeat_at=now, updated_at=now)
                .returning(CalendarRun.user_id, CalendarRun.calendar_id, CalendarRun.dry_run)
            )).one_or_none()
            if settled is not None and not settled.dry_run:
                # The user's event, in the transaction that settles the run (the outbox).
                note = outbox.run_note(settled.user_id, run_id, settled.calendar_id,
                                       status.value, entry_count, error, now)
                await outbox.record(session, [note] if note else [])
            await session.commit()

    async def sweep(self, stale_after: dt.timedelta,
                    exclude: Collection[uuid.UUID] = ()) -> list[uuid.UUID]:
        """Settle runs left `running` whose heartbeat is older than `stale_after` as failed
        (never the runs in `exclude`: this process is executing them)."""
        now = utcnow()
        cutoff = now - stale_after
        async with self._session() as session:
            stmt = select(CalendarRun.id).where(
                CalendarRun.status == RunStatus.running.value,
                or_(CalendarRun.heartbeat_at < cutoff,
                    (CalendarRun.heartbeat_at.is_(None)) & (CalendarRun.created_at < cutoff)),
            )
            ids = [i for i in (await session.execute(stmt)).scalars().all() if i not in exclude]
            if ids:
                error = {"code": "stale_run",
                         "message": "the run stopped reporting progress and was settled by "
                                    "the sweeper"}
                swept = (await session.execute(
                    update(CalendarRun)
                    .where(CalendarRun.id.in_(ids),
                           CalendarRun.status == RunStatus.running.value)
                    .values(status=RunStatus.failed.value, finished_at=now, updated_at=now,
                            error=error)
                    .returning(CalendarRun.id, CalendarRun.user_id, CalendarRun.calendar_id,
                               CalendarRun.entry_count, CalendarRun.dry_run)
                )).all()
                await outbox.record(session, [
                    n for r in swept if not r.dry_run
                    if (n := outbox.run_note(r.user_id, r.id, r.calendar_id, "failed",
                                             r.entry_count, error, now)) is not None])
            await session.commit()
        return ids

    async def mark_listened(self, run_id: uuid.UUID) -> None:
        """Record that a stream in this process listens to a run executing elsewhere."""
        now = utcnow()
        async with self._session() as session:
            await session.execute(
                update(CalendarRun)
                .where(CalendarRun.id == run_id, CalendarRun.status == RunStatus.running.value)
                .values(listened_at=now)
            )
            await session.commit()

    async def listened_at(self, run_id: uuid.UUID) -> dt.datetime | None:
        """When a stream on another process last said it listens to the run (or None)."""
        async with self.maker() as session:
            value: dt.datetime | None = await session.scalar(
                select(CalendarRun.listened_at).where(CalendarRun.id == run_id))
            return value

    async def poll_run(self, user_id: str, run_id: uuid.UUID) -> RunPoll | None:
        """The user's run's status, entry count and error: one narrow read per tail poll."""
        async with self.maker() as session:
            row = (await session.execute(
                select(CalendarRun.status, CalendarRun.entry_count, CalendarRun.error)
                .where(CalendarRun.id == run_id, CalendarRun.user_id == user_id)
            )).first()
        if row is None:
            return None
        return RunPoll(str(row.status), int(row.entry_count), row.error)

    async def get_run(self, user_id: str, run_id: uuid.UUID) -> CalendarRun | None:
        """The user's run, read fresh."""
        async with self.maker() as session:
            return await CalendarRepository(session).get_run(user_id, run_id)

    async def entries_after(self, run_id: uuid.UUID, user_id: str,
                            after_seq: int) -> Sequence[CalendarEntry]:
        """The run's saved entries with `seq > after_seq`, in stream order."""
        async with self.maker() as session:
            stmt = (
                select(CalendarEntry)
                .where(CalendarEntry.run_id == run_id, CalendarEntry.user_id == user_id,
                       CalendarEntry.seq > after_seq)
                .order_by(CalendarEntry.seq)
            )
            return (await session.execute(stmt)).scalars().all()
