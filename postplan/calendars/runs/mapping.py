"""What a run is, and the pure mappings from generation's `Brief`/`EntryDraft` to calendars' rows.

`RunRef` is how the executor, the store, the events and the streams name a run. The mappers
build rows without touching a session: the store inserts them, a dry run and the legacy stream
only show them. No I/O here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from postplan.core.db import utcnow
from postplan.generation.schemas import Brief, EntryDraft
from postplan.models import CalendarEntry


@dataclass(frozen=True)
class RunRef:
    """The identity of a run, as the executor and the streams need it."""

    run_id: uuid.UUID
    calendar_id: uuid.UUID
    user_id: str
    mode: str
    dry_run: bool
    expected_entries: int
    #: The model call waits for a free slot (LLM_MAX_CONCURRENCY): the `run` event says so.
    queued: bool = False
    #: Set on a regeneration run: (entry id, slot key) of each entry it rewrites.
    replaces: tuple[tuple[uuid.UUID, str], ...] = ()
    #: Named entries a regeneration left alone because they were edited.
    skipped: tuple[uuid.UUID, ...] = ()
    #: How the planner read the brief (`postsPerWeekMode`, `postsPerWeek`, `notes`), added to
    #: the `run` event (docs/briefs.md); None for a run replayed from the database.
    plan: dict[str, Any] | None = field(default=None, compare=False, hash=False)


def brief_json(brief: Brief) -> dict[str, Any]:
    """The brief as stored and hashed: camelCase JSON, unset fields left out."""
    return brief.model_dump(mode="json", by_alias=True, exclude_none=True)


def calendar_name(brief: Brief) -> str:
    """A new calendar's name: the brand and the first day."""
    return f"{brief.brand} · {brief.start_date.isoformat()}"


def draft_to_entry(ref: RunRef, draft: EntryDraft, seq: int,
                   entry_id: uuid.UUID | None = None,
                   now: dt.datetime | None = None) -> CalendarEntry:
    """An entry row (not added to any session) for one generated draft."""
    moment = now or utcnow()
    return CalendarEntry(
        id=entry_id or uuid.uuid4(),
        calendar_id=ref.calendar_id,
        run_id=ref.run_id,
        user_id=ref.user_id,
        seq=seq,
        channel=str(draft.channel),
        format=str(draft.format),
        scheduled_at=draft.scheduled_at.astimezone(dt.UTC),
        timezone=draft.timezone,
        pillar=draft.pillar,
        hook=draft.hook,
        caption=draft.caption,
        hashtags=list(draft.hashtags),
        call_to_action=draft.call_to_action,
        asset_notes=draft.asset_notes,
        media=[],
        channel_options={},
        version=1,
        edited=False,
        created_at=moment,
        updated_at=moment,
    )
