"""Calendars and entries: list, read, edit (docs/contract.md §2)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException

from postplan.calendars import service
from postplan.calendars.schemas import (
    CalendarOut,
    CalendarWithEntries,
    EntryOut,
    EntryPatch,
)
from postplan.core.auth import CurrentUser
from postplan.core.context import bind
from postplan.core.deps import Session, WriteSession
from postplan.core.openapi import link, problem_responses
from postplan.core.pagination import Cursor
from postplan.core.schemas import Page
from postplan.media.service import MediaResources, Resources
from postplan.models import CalendarEntry

#: The media store and signing key (thumbnail URLs of attached files).
MediaStore = Resources

router = APIRouter(tags=["calendars"])
ETAG_HEADER = {"description": 'The entry\'s version as a strong ETag, e.g. `"4"`',
               "schema": {"type": "string", "pattern": '^"[0-9]+"$'}}


@router.api_route("/calendars/import", methods=["GET", "HEAD", "PATCH", "DELETE"],
                 include_in_schema=False)
async def import_is_post_only() -> None:
    """`/calendars/import` is not a calendar id: only POST exists there (405, not a 422 for a
    malformed id from the route below)."""
    raise StarletteHTTPException(status_code=405)


_FIRST_CALENDAR = "$response.body#/items/0/id"
_THIS_CALENDAR = "$request.path.calendar_id"


@router.get("/calendars", response_model=Page[CalendarOut], response_model_by_alias=True,
            responses={200: {"links": {
                "calendar": link("/v1/calendars/{calendar_id}", "get", "the first calendar",
                                 calendar_id=_FIRST_CALENDAR),
                "entries": link("/v1/calendars/{calendar_id}/entries", "get",
                                "the first calendar's entries", calendar_id=_FIRST_CALENDAR),
                "nextPage": link("/v1/calendars", "get", "the next page",
                                 cursor="$response.body#/nextCursor"),
            }}})
async def list_calendars(
    user: CurrentUser,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> Page[CalendarOut]:
    """The caller's calendars, newest first."""
    rows, next_cursor = await service.list_calendars(session, user.id, limit, cursor)
    return Page[CalendarOut](
        items=[CalendarOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/calendars/{calendar_id}", response_model=CalendarWithEntries,
            responses={200: {"links": {
                "edit": link("/v1/calendars/{calendar_id}/entries/{entry_id}", "patch",
                             "edit the first entry", calendar_id=_THIS_CALENDAR,
                             entry_id="$response.body#/entries/0/id"),
            }}, **problem_responses(404)})
async def get_calendar(
    calendar_id: uuid.UUID, user: CurrentUser, session: Session, res: MediaStore
) -> CalendarWithEntries:
    """One calendar with its latest saved entries, ordered by `scheduledAt`."""
    bind(calendarId=str(calendar_id))
    calendar = await service.get_calendar(session, user.id, calendar_id)
    entries, _ = await service.list_entries(session, user.id, calendar_id)
    return CalendarWithEntries.model_validate(
        {**CalendarOut.model_validate(calendar).model_dump(),
         "entries": await _entries_out(session, res, user.id, entries)}
    )


async def _entries_out(session: AsyncSession, res: MediaResources, user_id: str,
                       entries: Sequence[CalendarEntry]) -> list[EntryOut]:
    """Entries as a read shows them: stored media described (kind, status, thumbnail...)."""
    media = await service.described_media(session, res, user_id, entries)
    return [EntryOut.model_validate(e).model_copy(update={"media": media[e.id]})
            for e in entries]


@router.get("/calendars/{calendar_id}/entries", response_model=Page[EntryOut],
            responses={200: {"links": {
                "edit": link("/v1/calendars/{calendar_id}/entries/{entry_id}", "patch",
                             "edit the first entry", calendar_id=_THIS_CALENDAR,
                             entry_id="$response.body#/items/0/id"),
                "nextPage": link("/v1/calendars/{calendar_id}/entries", "get", "the next page",
                                 calendar_id=_THIS_CALENDAR,
                                 cursor="$response.body#/nextCursor"),
                "publish": link("/v1/calendars/{calendar_id}/publish", "post",
                                "publish the calendar", calendar_id=_THIS_CALENDAR),
                "export": link("/v1/calendars/{calendar_id}/export", "post",
                               "export the calendar", calendar_id=_THIS_CALENDAR),
                "feed": link("/v1/calendars/{calendar_id}/feed", "post",
                             "create its feed", calendar_id=_THIS_CALENDAR),
            }}, **problem_responses(404)})
async def list_entries(
    calendar_id: uuid.UUID,
    user: CurrentUser,
    session: Session,
    res: MediaStore,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    cursor: Cursor = None,
) -> Page[EntryOut]:
    """Latest saved entries, ordered by `scheduledAt`, in pages."""
    bind(calendarId=str(calendar_id))
    rows, next_cursor = await service.list_entries(
        session, user.id, calendar_id, limit=limit, cursor=cursor
    )
    return Page[EntryOut](items=await _entries_out(session, res, user.id, rows),
                          next_cursor=next_cursor)


@router.get("/calendars/{calendar_id}/entries/{entry_id}", response_model=EntryOut,
            responses={**problem_responses(404),
                       200: {"headers": {"ETag": ETAG_HEADER}, "links": {
                           "edit": link(
                               "/v1/calendars/{calendar_id}/entries/{entry_id}", "patch",
                               "edit it at this version", calendar_id=_THIS_CALENDAR,
                               entry_id="$request.path.entry_id",
                               **{"header.if-match": "$response.header.ETag"}),
                       }}})
async def get_entry(
    calendar_id: uuid.UUID,
    entry_id: uuid.UUID,
    user: CurrentUser,
    session: Session,
    response: Response,
    res: MediaStore,
) -> EntryOut:
    """One entry as last saved; its `ETag` is the version to send as `If-Match` when editing."""
    bind(calendarId=str(calendar_id))
    entry = await service.get_entry(session, user.id, calendar_id, entry_id)
    response.headers["ETag"] = f'"{entry.version}"'
    return (await _entries_out(session, res, user.id, [entry]))[0]


@router.patch("/calendars/{calendar_id}/entries/{entry_id}", response_model=EntryOut,
              responses={**problem_responses(404, 409, 412),
                         200: {"headers": {"ETag": ETAG_HEADER}, "links": {
                             "editAgain": link(
                                 "/v1/calendars/{calendar_id}/entries/{entry_id}", "patch",
                                 "edit it again at this version", calendar_id=_THIS_CALENDAR,
                                 entry_id="$request.path.entry_id",
                                 **{"header.if-match": "$response.header.ETag"}),
                         }}})
async def patch_entry(
    calendar_id: uuid.UUID,
    entry_id: uuid.UUID,
    patch: EntryPatch,
    user: CurrentUser,
    session: WriteSession,
    response: Response,
    res: MediaStore,
    if_match: Annotated[str | None, Header(max_length=64, pattern=service.IF_MATCH_PATTERN,
                                           description='`"<version>"`, `W/"<version>"`, '
                                                       "`<version>` or `*`")] = None,
) -> EntryOut:
    """Edit an entry. Send `If-Match: <version>`; a stale version answers 412."""
    bind(calendarId=str(calendar_id))
    entry = await service.update_entry(
        session, user.id, calendar_id, entry_id, patch, service.parse_if_match(if_match)
    )
    response.headers["ETag"] = f'"{entry.version}"'
    return (await _entries_out(session, res, user.id, [entry]))[0]
