"""Storage for regeneration runs: the run row on an existing calendar, and entries rewritten
in place (docs/regeneration.md).

A regenerated entry keeps its id, channel, format, time and pillar (so links, publish intents
and feeds that name it stay valid); its copy is replaced, its `version` goes up by one, a
`regenerated` revision records the new copy, and its `run_id`/`seq` move to the regeneration run
(so the run's stream and its resume read it like any run's entries). The update only applies
while the entry is still unedited: an edit that lands while the model writes wins, and that
entry is left out of the run.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import insert, select, update

from postplan.calendars.repository import snapshot
from postplan.calendars.runs.limits import RunLimit
from postplan.calendars.runs.mapping import RunRef, brief_json
from postplan.calendars.runs.states import RunStatus
from postplan.calendars.runs.store import RunStore
from postplan.core.db import utcnow
from postplan.generation.schemas import Brief, EntryDraft
from postplan.models import Calendar, CalendarEntry, CalendarRun, EntryRevision

REVISION_SOURCE = "regenerated"


def slot_key(channel: str, scheduled_at: dt.datetime) -> str:
    """How a draft finds the entry it replaces: its channel and UTC instant."""
    return f"{channel}@{scheduled_at.astimezone(dt.UTC).isoformat()}"


async def create_regeneration(store: RunStore, user_id: str, calendar: Calendar, brief: Brief,
                              *, mode: str, replaces: Sequence[tuple[uuid.UUID, str]],
                              model: str | None, limit: RunLimit) -> RunRef:
    """Commit a run row on `calendar` that will rewrite `replaces` ((entry id, slot key) each).

    No entry is added, so the calendar's entry cap is not consulted."""
    now = utcnow()
    run_id = uuid.uuid4()
    async with store.unit_of_work() as session:
        await store.check_running(session, user_id, limit, now)
        session.add(CalendarRun(id=run_id, calendar_id=calendar.id, user_id=user_id, mode=mode,
                                status=RunStatus.running.value, dry_run=False,
                                brief=brief_json(brief), expected_entries=len(replaces),
                                entry_count=0, model=model, heartbeat_at=now, created_at=now,
                                updated_at=now))
        await session.execute(update(Calendar).where(Calendar.id == calendar.id)
                              .values(latest_run_id=run_id, updated_at=now))
        await session.commit()
    return RunRef(run_id, calendar.id, user_id, mode, False, len(replaces),
                  replaces=tuple(replaces))


async def replace_entries(store: RunStore, ref: RunRef, drafts: Sequence[EntryDraft],
                          first_seq: int) -> list[CalendarEntry]:
    """Rewrite the entries the drafts belong to (still unedited ones only), in one commit."""
    now = utcnow()
    waiting: dict[str, list[uuid.UUID]] = {}
    for entry_id, key in ref.replaces:
        waiting.setdefault(key, []).append(entry_id)
    saved: list[uuid.UUID] = []
    async with store.unit_of_work() as session:
        done = set((await session.execute(
            select(CalendarEntry.id).where(CalendarEntry.run_id == ref.run_id))).scalars())
        for draft in drafts:
            ids = [i for i in waiting.get(slot_key(str(draft.channel), draft.scheduled_at), [])
                   if i not in done and i not in saved]
            if not ids:
                continue  # no entry (left) for this slot
            result = await session.execute(
                update(CalendarEntry)
                .where(CalendarEntry.id == ids[0], CalendarEntry.user_id == ref.user_id,
                       CalendarEntry.edited.is_(False))
                .values(hook=draft.hook, caption=draft.caption, hashtags=list(draft.hashtags),
                        call_to_action=draft.call_to_action, asset_notes=draft.asset_notes,
                        version=CalendarEntry.version + 1, run_id=ref.run_id,
                        seq=first_seq + len(saved), updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0):
                saved.append(ids[0])
            else:
                done.add(ids[0])  # edited meanwhile: the edit wins
        rows: list[CalendarEntry] = []
        if saved:
            found = {r.id: r for r in (await session.execute(
                select(CalendarEntry).where(CalendarEntry.id.in_(saved)))).scalars()}
            rows = [found[i] for i in saved]
            await session.execute(insert(EntryRevision), [
                {"id": uuid.uuid4(), "entry_id": r.id, "calendar_id": r.calendar_id,
                 "user_id": r.user_id, "version": r.version, "source": REVISION_SOURCE,
                 "data": snapshot(r), "created_at": now} for r in rows])
            await session.execute(
                update(CalendarRun).where(CalendarRun.id == ref.run_id)
                .values(entry_count=first_seq + len(rows) - 1, heartbeat_at=now,
                        updated_at=now))
        await session.commit()
    return rows
