"""Regeneration: new copy for chosen or all unedited entries of a calendar, as a run
(`POST /v1/calendars/{calendarId}/regenerate`, docs/regeneration.md).

Choices (documented in docs/regeneration.md):

* Edited entries are never overwritten. Named edited entries are skipped, listed in the `run`
  event (`skipped`, with a sentence in `notes`); when nothing is left to regenerate the answer
  is 409 `nothing_to_regenerate` and no run starts. Unknown entry ids are 404 `entry_not_found`.
* A regenerated entry keeps its id and slot (channel, format, time, pillar) and gets a new
  version and a `regenerated` revision (see `replacing`).
* `brief` overrides are merged over the calendar's stored brief (top-level fields) and
  validated like a new brief (422); they steer the copy (tone, avoid-list, language, offers…),
  while the slots stay those of the entries.
"""

from __future__ import annotations

import dataclasses
import uuid
import zoneinfo
from typing import Any

from pydantic import ValidationError

from postplan.calendars.repository import CalendarRepository, EntryRepository
from postplan.calendars.runs.limits import RunLimit
from postplan.calendars.runs.registry import RunRegistry
from postplan.calendars.runs.replacing import create_regeneration, slot_key
from postplan.calendars.runs.service import StartedRun, make_generator, select_mode
from postplan.config import Settings
from postplan.core.errors import Conflict, NotFound, Unprocessable
from postplan.core.flags import FlagService
from postplan.core.logging import get_logger
from postplan.core.vocab import Channel, EntryFormat
from postplan.generation.planner import Slot, planner_supports
from postplan.generation.planner.languages import SUPPORTED
from postplan.generation.providers.rewrite import SlotRewriter
from postplan.generation.schemas import Brief
from postplan.models import CalendarEntry

log = get_logger(__name__)

def merged_brief(stored: dict[str, Any], overrides: dict[str, Any] | None,
                 calendar_id: uuid.UUID) -> Brief:
    """The calendar's brief with `overrides` on top, as a validated Brief (422 otherwise).

    A fresh seed makes the planner write new copy rather than the same again."""
    data = {**stored, **(overrides or {}), "calendarId": str(calendar_id)}
    data["seed"] = f"regen-{uuid.uuid4().hex[:16]}"
    try:
        return Brief.model_validate(data)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"],
                   "type": e["type"]} for e in exc.errors()]
        raise Unprocessable("; ".join(f"brief.{e['field']}: {e['message']}" for e in errors[:5]),
                            code="validation_failed", extra={"errors": errors}) from exc


def entry_slot(index: int, entry: CalendarEntry) -> Slot:
    """An existing entry's slot (what regeneration keeps)."""
    zone = zoneinfo.ZoneInfo(entry.timezone)
    return Slot(index, Channel(entry.channel), EntryFormat(entry.format),
                entry.scheduled_at.astimezone(zone), entry.timezone, entry.pillar, None)


def choose(entries: list[CalendarEntry], entry_ids: list[uuid.UUID] | None,
           unedited: bool) -> tuple[list[CalendarEntry], list[uuid.UUID]]:
    """(entries to regenerate, named entries skipped because they were edited)."""
    if entry_ids is None:
        return ([e for e in entries if not e.edited] if unedited else []), []
    by_id = {e.id: e for e in entries}
    unknown = [str(i) for i in dict.fromkeys(entry_ids) if i not in by_id]
    if unknown:
        raise NotFound(f"no such entries in this calendar: {', '.join(unknown[:5])}",
                       code="entry_not_found", extra={"entryIds": unknown})
    named = [by_id[i] for i in dict.fromkeys(entry_ids)]
    return [e for e in named if not e.edited], [e.id for e in named if e.edited]


async def start_regeneration(calendar_id: uuid.UUID, user_id: str, *,
                             entry_ids: list[uuid.UUID] | None, unedited: bool,
                             overrides: dict[str, Any] | None, settings: Settings,
                             flags: FlagService, registry: RunRegistry) -> StartedRun:
    """Check the request, commit the run row and start rewriting; raises the 4xx problems."""
    mode = select_mode(flags, settings, user_id)
    if mode == "legacy":
        raise Conflict("regeneration needs the calendar service (CALENDAR_SERVICE_ENABLED)",
                       code="regeneration_unavailable")
    async with registry.store.maker() as session:
        calendar = await CalendarRepository(session).get(user_id, calendar_id)
        if calendar is None:
            raise NotFound("calendar not found", code="calendar_not_found")
        entries = [e async for e in EntryRepository(session).iterate(user_id, calendar_id)]
    brief = merged_brief(calendar.brief, overrides, calendar_id)
    if mode == "planner" and not planner_supports(brief.language):
        # The slots are kept, so only the language matters of the planner's brief checks.
        raise Unprocessable(f"brief.language: the planner writes {', '.join(SUPPORTED)}; no "
                            f"model is configured for {brief.language!r}",
                            code="language_unsupported")
    targets, skipped = choose(entries, entry_ids, unedited)
    if not targets:
        raise Conflict("nothing to regenerate: " + ("every named entry was edited" if skipped
                                                    else "every entry was edited"),
                       code="nothing_to_regenerate",
                       extra={"skipped": [str(i) for i in skipped]})
    slots = [entry_slot(i, e) for i, e in enumerate(targets)]
    generator = SlotRewriter(make_generator(settings, mode), slots,
                             used_hooks={e.hook for e in entries})
    stream_slot = registry.slots.take(user_id)
    try:
        ref = await create_regeneration(
            registry.store, user_id, calendar, brief, mode=mode,
            replaces=[(e.id, slot_key(e.channel, e.scheduled_at)) for e in targets],
            model=settings.llm_model if mode == "ai" else None,
            limit=RunLimit(registry.limits.max_runs_per_user, registry.stale_after))
        ref = dataclasses.replace(ref, queued=generator.would_queue(), skipped=tuple(skipped))
        live = registry.start(ref, brief, generator, persist=True)
    except BaseException:
        stream_slot.release()
        raise
    stream_slot.attach_run(ref.run_id)
    log.info("generation.regenerate.started", entries=len(targets), skipped=len(skipped),
             mode=mode)
    return StartedRun(live.ref, mode, "generate", registry.tails.from_start(live.ref, live=live),
                      stream_slot.release, registry)
