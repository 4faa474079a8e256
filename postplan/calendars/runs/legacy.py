"""The legacy stream (CALENDAR_SERVICE_ENABLED off): deterministic, dry-run, writes nothing.

Identical briefs give identical `entry` and `done` data: the run id is a uuid5 of a hash of the
brief, entry ids are uuid5s of the run id and the seq, and `updatedAt` is the brief's start date
(midnight UTC) rather than the wall clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import AsyncGenerator

from postplan.calendars.runs.events import RunEvent, entry_event, run_event, terminal_events
from postplan.calendars.runs.mapping import RunRef, brief_json, draft_to_entry
from postplan.calendars.runs.states import RunMode, RunStatus
from postplan.generation.planner import legacy_entries
from postplan.generation.schemas import Brief

_NAMESPACE = uuid.UUID("6f0c43a2-6d0e-5b8e-9a57-2f5b1a1c0d11")


def legacy_run_id(brief: Brief) -> uuid.UUID:
    """The same brief always gets the same run id."""
    canonical = json.dumps(brief_json(brief), sort_keys=True, separators=(",", ":"))
    return uuid.uuid5(_NAMESPACE, hashlib.sha256(canonical.encode()).hexdigest())


def legacy_run(brief: Brief) -> tuple[RunRef, list[RunEvent]]:
    """The legacy run for `brief`, and every event of its stream."""
    run_id = legacy_run_id(brief)
    calendar_id = brief.calendar_id or uuid.uuid5(run_id, "calendar")
    drafts = legacy_entries(brief)
    ref = RunRef(run_id, calendar_id, "legacy", RunMode.legacy.value, True, len(drafts))
    stamp = dt.datetime.combine(brief.start_date, dt.time(0), tzinfo=dt.UTC)
    events = [run_event(ref)]
    for seq, draft in enumerate(drafts, start=1):
        entry = draft_to_entry(ref, draft, seq, entry_id=uuid.uuid5(run_id, str(seq)), now=stamp)
        events.append(entry_event(run_id, entry))
    events.extend(terminal_events(run_id, RunStatus.completed.value, len(drafts), None))
    return ref, events


async def fixed_events(events: list[RunEvent]) -> AsyncGenerator[RunEvent, None]:
    """A precomputed stream (legacy mode)."""
    for event in events:
        yield event
