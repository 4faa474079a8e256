"""HTTP API of the entries and calendars a person manages (DESIGN §9)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from postplan.calendars import manage
from postplan.calendars.limits import TOO_LARGE_RESPONSE
from postplan.calendars.manage_schemas import CalendarPatch, EntryCreate, EntryDuplicate
from postplan.calendars.schemas import CalendarOut, EntryOut
from postplan.core.auth import CurrentUser
from postplan.core.context import bind
from postplan.core.deps import AppSettings, WriteSession
from postplan.core.openapi import problem_responses

router = APIRouter(tags=["calendars"])


@router.post("/calendars/{calendar_id}/entries", response_model=EntryOut, status_code=201,
             responses={**problem_responses(404), 413: TOO_LARGE_RESPONSE})
async def create_entry(calendar_id: uuid.UUID, body: EntryCreate, user: CurrentUser,
                       session: WriteSession, settings: AppSettings,
                       response: Response) -> EntryOut:
    """Add an entry by hand (`runId` null), validated like an edit."""
    bind(calendarId=str(calendar_id))
    entry = await manage.create_entry(session, settings, user.id, calendar_id, body)
    response.headers["ETag"] = f'"{entry.version}"'
    return EntryOut.model_validate(entry)


@router.delete("/calendars/{calendar_id}/entries/{entry_id}", status_code=204,
               responses=problem_responses(404))
async def delete_entry(calendar_id: uuid.UUID, entry_id: uuid.UUID, user: CurrentUser,
                       session: WriteSession) -> Response:
    """Remove an entry: kept as a revision, gone from lists, exports and the feed; its pending
    publish intents are cancelled."""
    bind(calendarId=str(calendar_id))
    await manage.delete_entry(session, user.id, calendar_id, entry_id)
    return Response(status_code=204)


@router.post("/calendars/{calendar_id}/entries/{entry_id}/duplicate", response_model=EntryOut,
             status_code=201, responses={**problem_responses(404), 413: TOO_LARGE_RESPONSE})
async def duplicate_entry(calendar_id: uuid.UUID, entry_id: uuid.UUID, body: EntryDuplicate,
                          user: CurrentUser, session: WriteSession, settings: AppSettings,
                          response: Response) -> EntryOut:
    """Copy an entry, optionally to another `scheduledAt`, `channel` or `format`."""
    bind(calendarId=str(calendar_id))
    entry = await manage.duplicate_entry(session, settings, user.id, calendar_id, entry_id, body)
    response.headers["ETag"] = f'"{entry.version}"'
    return EntryOut.model_validate(entry)


@router.patch("/calendars/{calendar_id}", response_model=CalendarOut,
              responses=problem_responses(404))
async def rename_calendar(calendar_id: uuid.UUID, body: CalendarPatch, user: CurrentUser,
                          session: WriteSession) -> CalendarOut:
    """Rename a calendar (calendars carry no version, so no `If-Match`)."""
    bind(calendarId=str(calendar_id))
    return CalendarOut.model_validate(
        await manage.rename_calendar(session, user.id, calendar_id, body))


@router.delete("/calendars/{calendar_id}", status_code=204, responses=problem_responses(404))
async def delete_calendar(calendar_id: uuid.UUID, user: CurrentUser,
                          session: WriteSession) -> Response:
    """Delete a calendar: gone from lists; its pending intents cancelled; published history
    (intents, attempts) stays readable."""
    bind(calendarId=str(calendar_id))
    await manage.delete_calendar(session, user.id, calendar_id)
    return Response(status_code=204)
