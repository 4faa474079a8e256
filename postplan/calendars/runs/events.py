"""The events of a generation stream (docs/contract.md §3) as plain data, independent of
transport."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from postplan.calendars.runs.mapping import RunRef
from postplan.calendars.runs.states import RunStatus
from postplan.calendars.schemas import EntryOut
from postplan.models import CalendarEntry

TIMEOUT_CODE = "ai_timeout"


@dataclass(frozen=True)
class RunEvent:
    """One SSE event: a name, JSON data, and for entries the id `<runId>:<seq>`."""

    event: str
    data: dict[str, Any]
    id: str | None = None


def event_id(run_id: uuid.UUID, seq: int) -> str:
    return f"{run_id}:{seq}"


SKIPPED_NOTE = "edited entries are never regenerated; the skipped ones were left as they are"
QUEUED_NOTE = "waiting for a free model slot; entries follow once the call starts"


def run_event(ref: RunRef) -> RunEvent:
    data: dict[str, Any] = {
        "runId": str(ref.run_id),
        "calendarId": str(ref.calendar_id),
        "mode": ref.mode,
        "dryRun": ref.dry_run,
        "expectedEntries": ref.expected_entries,
    }
    if ref.plan:  # additive to DESIGN §3: how the brief was read (docs/briefs.md)
        data.update(ref.plan)
    notes: list[str] = []
    if ref.queued:  # additive (docs/contract-notes.md): only when the run waits
        data["queued"] = True
        notes.append(QUEUED_NOTE)
    if ref.replaces:
        data["regenerates"] = [str(entry_id) for entry_id, _key in ref.replaces]
    if ref.skipped:
        data["skipped"] = [str(i) for i in ref.skipped]
        notes.append(SKIPPED_NOTE)
    if notes:  # one `notes` list with the planner's (docs/contract-notes.md)
        data["notes"] = [*data.get("notes", []), *notes]
    return RunEvent("run", data)


def entry_payload(entry: CalendarEntry) -> dict[str, Any]:
    """An Entry exactly as the calendars API shows it."""
    return EntryOut.model_validate(entry).model_dump(mode="json", by_alias=True)


def entry_event(run_id: uuid.UUID, entry: CalendarEntry) -> RunEvent:
    return RunEvent("entry", {"seq": entry.seq, "entry": entry_payload(entry)},
                    event_id(run_id, entry.seq))


def terminal_events(run_id: uuid.UUID, status: str, entry_count: int,
                    error: dict[str, Any] | None) -> list[RunEvent]:
    """What closes a stream: `timeout` or `error` when one applies, then `done`."""
    events: list[RunEvent] = []
    if error:
        code = str(error.get("code", "error"))
        message = str(error.get("message", ""))
        if code == TIMEOUT_CODE:
            events.append(RunEvent("timeout", {"message": message, "entriesSoFar": entry_count}))
        else:
            events.append(RunEvent("error", {"code": code, "message": message}))
    events.append(RunEvent("done", {"runId": str(run_id), "status": status,
                                    "entryCount": entry_count}))
    return events


def stream_outcome(events_seen: set[str], status: str | None) -> str:
    """The `outcome` label of SSE_STREAMS for a stream that ended after these events."""
    if status is None:
        return "client_closed"
    if "timeout" in events_seen:
        return "timeout"
    if status == RunStatus.failed.value:
        return "error"
    if status == RunStatus.completed.value:
        return "completed"
    return "partial"
