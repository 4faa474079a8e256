"""`POST /v1/ai/calendar` and the run endpoints (docs/contract.md §2–§4).

An invalid brief is refused with 422 before any stream starts; the run is then started by
`service.start_run`, the same path as `postplan generate`. Once streaming, problems arrive as
events.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query

from postplan.calendars import service
from postplan.calendars.limits import TOO_LARGE_RESPONSE
from postplan.calendars.runs.mapping import RunRef
from postplan.calendars.runs.regenerate import start_regeneration
from postplan.calendars.runs.registry import Runs
from postplan.calendars.runs.schemas import RegenerateIn, RunOut
from postplan.calendars.runs.service import start_run
from postplan.calendars.runs.sse import RunEventResponse, sse_response
from postplan.core.auth import CurrentUser
from postplan.core.context import bind
from postplan.core.deps import AppSettings, Session
from postplan.core.errors import NotFound, Unprocessable
from postplan.core.flags import Flags
from postplan.core.logging import get_logger
from postplan.core.openapi import link, problem_response, problem_responses
from postplan.generation.planner import brief_problems
from postplan.generation.schemas import Brief

log = get_logger(__name__)

router = APIRouter(tags=["generation"])

_SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "An event stream: run, entry…, timeout|error, done",
          "content": {"text/event-stream": {}}},
    429: problem_response(429, "`too_many_runs` (generate only) or `too_many_streams`; "
                               "see `Retry-After`"),
}


def validate_brief(brief: Brief, *, model_available: bool = False) -> None:
    """The planner's own checks (e.g. more pillars than slots) as a 422 problem; its `code` is
    the first problem's (e.g. `language_unsupported`, `region_not_in_country`)."""
    problems = brief_problems(brief, model_available=model_available)
    if problems:
        raise Unprocessable(
            "; ".join(f"{p.field}: {p.message}" for p in problems[:5]),
            code=problems[0].code,
            extra={"errors": [{"field": p.field, "message": p.message,
                               "type": "invalid" if p.code == "validation_failed" else p.code}
                              for p in problems]},
        )


@router.post("/ai/calendar", responses={**_SSE_RESPONSES, 413: TOO_LARGE_RESPONSE,
                                       **problem_responses(404)},
             response_class=RunEventResponse)
async def generate_calendar(brief: Brief, user: CurrentUser, settings: AppSettings,
                            flags: Flags, registry: Runs) -> RunEventResponse:
    """Plan a calendar and stream its entries as they are made (text/event-stream)."""
    validate_brief(brief, model_available=bool(settings.llm_base_url))
    started = await start_run(brief, user.id, settings=settings, flags=flags, registry=registry)
    ref = started.ref
    if started.kind == "generate":
        bind(runId=str(ref.run_id), calendarId=str(ref.calendar_id))
        log.info("generation.stream.started", mode=started.mode)
    return sse_response(started.events, settings, run_id=ref.run_id,
                        calendar_id=ref.calendar_id, kind=started.kind, on_close=started.release)


@router.post("/calendars/{calendar_id}/regenerate",
             responses={**_SSE_RESPONSES, **problem_responses(404, 409)},
             response_class=RunEventResponse)
async def regenerate_entries(calendar_id: uuid.UUID, body: RegenerateIn, user: CurrentUser,
                             settings: AppSettings, flags: Flags,
                             registry: Runs) -> RunEventResponse:
    """New copy for the named or all unedited entries, streamed as a run (edited entries are
    never overwritten; docs/regeneration.md)."""
    bind(calendarId=str(calendar_id))
    started = await start_regeneration(
        calendar_id, user.id, entry_ids=body.entry_ids, unedited=bool(body.unedited),
        overrides=body.brief, settings=settings, flags=flags, registry=registry)
    bind(runId=str(started.ref.run_id))
    return sse_response(started.events, settings, run_id=started.ref.run_id,
                        calendar_id=calendar_id, kind=started.kind, on_close=started.release)


@router.get("/ai/calendar/runs/{run_id}", response_model=RunOut,
            responses={200: {"links": {
                "events": link("/v1/ai/calendar/runs/{run_id}/events", "get",
                               "replay the run's events", run_id="$request.path.run_id"),
                "calendar": link("/v1/calendars/{calendar_id}", "get", "the run's calendar",
                                 calendar_id="$response.body#/calendarId"),
            }}, **problem_responses(404)})
async def get_run(run_id: uuid.UUID, user: CurrentUser, session: Session) -> RunOut:
    """A run's status, counts, error and timestamps."""
    bind(runId=str(run_id))
    run = await service.get_run(session, user.id, run_id)
    bind(calendarId=str(run.calendar_id))
    return RunOut.model_validate(run)


#: `<runId>:<seq>` or a bare `<seq>`, as the `id:` of an event this API sent.
LAST_EVENT_ID_PATTERN = r"^(([0-9A-Fa-f-]{36}:)?[0-9]{1,9})?$"


def parse_last_event_id(value: str | None, run_id: uuid.UUID) -> int:
    """`<runId>:<seq>` (or a bare seq) → seq; absent → 0.

    Only ASCII digits count: `str.isdigit()` also accepts `¹` or `٣`, which `int()` refuses."""
    if value is None or not value.strip():
        return 0
    raw = value.strip()
    prefix, sep, seq = raw.rpartition(":")
    if sep and prefix != str(run_id):
        raise Unprocessable("Last-Event-ID belongs to another run", code="invalid_last_event_id")
    if not re.fullmatch(r"[0-9]{1,9}", seq):
        raise Unprocessable("Last-Event-ID must be <runId>:<seq>", code="invalid_last_event_id")
    return int(seq)


@router.get("/ai/calendar/runs/{run_id}/events",
            responses={**_SSE_RESPONSES, **problem_responses(404)},
            response_class=RunEventResponse)
async def run_events(
    run_id: uuid.UUID,
    user: CurrentUser,
    settings: AppSettings,
    registry: Runs,
    last_event_id: Annotated[str | None, Header(max_length=64,
                                                pattern=LAST_EVENT_ID_PATTERN)] = None,
    last_event_id_query: Annotated[str | None, Query(alias="lastEventId", max_length=64,
                                                     pattern=LAST_EVENT_ID_PATTERN)] = None,
) -> RunEventResponse:
    """Replay a run after `Last-Event-ID` (header or `lastEventId`), tail it, then `done`.

    Never generates: entries come from the database (or from this process while it runs)."""
    bind(runId=str(run_id))
    after = parse_last_event_id(last_event_id or last_event_id_query, run_id)
    # Counted before the database is read: a client over the bound costs no query.
    slot = registry.slots.take(user.id, run_id)
    try:
        run = await registry.store.get_run(user.id, run_id)
        if run is None:
            raise NotFound("run not found", code="run_not_found")
    except BaseException:
        slot.release()
        raise
    bind(calendarId=str(run.calendar_id))
    if after == 0:
        ref = RunRef(run.id, run.calendar_id, user.id, run.mode, run.dry_run,
                     run.expected_entries)
        events = registry.tails.from_start(ref)
    else:
        events = registry.tails.events(user.id, run_id, after)
    return sse_response(events, settings, run_id=run_id, calendar_id=run.calendar_id,
                        kind="resume", on_close=slot.release)
