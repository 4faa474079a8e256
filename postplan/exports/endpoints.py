"""Export, feed and import endpoints (docs/contract.md §2 and §4)."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse

from postplan.calendars.service import TOO_LARGE_RESPONSE
from postplan.core.auth import CurrentUser
from postplan.core.context import bind
from postplan.core.db import utcnow
from postplan.core.deps import AppSettings, Session, WriteSession
from postplan.core.errors import AppError, NotFound
from postplan.core.flags import Flag, Flags
from postplan.core.logging import get_logger
from postplan.core.metrics import REQUEST_LATENCY
from postplan.core.openapi import link, problem_responses, schema_ref
from postplan.exports import feed, service
from postplan.exports.files import PREVIEW_ENTRIES, ExportFile, ExportFormat
from postplan.exports.schemas import (
    ExportDocument,
    ExportDryRun,
    ExportRequest,
    FeedOut,
    ImportDocument,
    ImportReport,
)
from postplan.exports.service import FEED_TOKEN_PATTERN

router = APIRouter(tags=["exports"])

#: A feed token as `POST …/feed` issues it. Any other value answers 404 like an unknown token
#: (the path is a credential: no hint whether a value was close), so it is documented, not
#: enforced as a 422.
FeedToken = Annotated[str, Path(json_schema_extra={"pattern": FEED_TOKEN_PATTERN,
                                                   "maxLength": 128})]
log = get_logger(__name__)

#: Calendar apps poll; a short max-age plus ETag revalidation keeps them current and cheap.
FEED_CACHE_CONTROL = "private, max-age=300, must-revalidate"


class FeedUnavailable(AppError):
    status_code = 503
    code = "feed_unavailable"
    title = "Feed unavailable"


def _file_headers(file: ExportFile) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{file.filename}"',
        "Content-Length": str(file.size),
        "X-Checksum": file.checksum,
        "ETag": file.etag,
        "Cache-Control": "no-store",
    }


@router.post(
    "/calendars/{calendar_id}/export",
    response_model=ExportDryRun | ExportDocument,
    responses={200: {"description": "The dry-run answer (JSON), or the file itself when "
                                    "PUBLISH_SERVICE_ENABLED is on and dryRun is false.",
                     "content": {"text/csv": {"schema": {"type": "string"}},
                                 "text/calendar": {"schema": {"type": "string"}}}},
               **problem_responses(404)},
)
async def export_calendar(
    calendar_id: uuid.UUID, body: ExportRequest, user: CurrentUser, session: Session,
    flags: Flags,
) -> Response:
    """Export the latest saved entries as CSV, ICS or JSON (dry run unless the flag is on)."""
    started = time.perf_counter()
    bind(calendarId=str(calendar_id))
    live_enabled = flags.is_enabled(Flag.publish_service, user.id)
    dry_run = body.dry_run or not live_enabled
    try:
        file = await service.export_calendar(session, user.id, calendar_id, body.format)
    finally:
        REQUEST_LATENCY.labels(endpoint="export").observe(time.perf_counter() - started)
    log.info("export.rendered", format=str(body.format), dryRun=dry_run,
             entryCount=file.entry_count, bytes=file.size,
             status="dry_run" if dry_run else "live")
    if dry_run:
        file.close()
        answer = ExportDryRun(
            format=str(body.format), filename=file.filename, media_type=file.media_type,
            entry_count=file.entry_count, checksum=file.checksum, bytes=file.size,
            preview=file.preview, preview_entries=min(PREVIEW_ENTRIES, file.entry_count),
            live_export_enabled=live_enabled,
        )
        return JSONResponse(answer.model_dump(by_alias=True))
    return StreamingResponse(file.chunks(), media_type=file.media_type,
                             headers=_file_headers(file))


@router.post("/calendars/{calendar_id}/feed", status_code=status.HTTP_201_CREATED,
             response_model=FeedOut, responses={201: {"links": {
                 "feed": link("/v1/feeds/{token}.ics", "get", "read the new feed",
                              token="$response.body#/token"),
                 "revoke": link("/v1/calendars/{calendar_id}/feed", "delete", "revoke it",
                                calendar_id="$request.path.calendar_id"),
             }}, **problem_responses(404)})
async def create_feed(calendar_id: uuid.UUID, request: Request, user: CurrentUser,
                      session: WriteSession, response: Response) -> FeedOut:
    """Create or rotate the calendar's ICS subscription token. The token is shown only now."""
    bind(calendarId=str(calendar_id))
    # Saved before the client hears of it (WriteSession commits before the response is sent):
    # a client that uses the URL at once finds the token.
    token = await service.rotate_feed_token(session, user.id, calendar_id)
    url = str(request.url_for("get_feed", token=token))
    log.info("export.feed_rotated")
    response.headers["Cache-Control"] = "no-store"
    return FeedOut(calendar_id=calendar_id, token=token, url=url,
                   webcal_url="webcal://" + url.split("://", 1)[1])


@router.delete("/calendars/{calendar_id}/feed", status_code=status.HTTP_204_NO_CONTENT,
               responses=problem_responses(404))
async def revoke_feed(calendar_id: uuid.UUID, user: CurrentUser,
                      session: WriteSession) -> Response:
    """Revoke the calendar's feed token; its URL answers 404 from now on."""
    bind(calendarId=str(calendar_id))
    await service.revoke_feed_token(session, user.id, calendar_id)
    log.info("export.feed_revoked")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


#: The ETag of every calendar revision rendered in this process (exports/feed.py).
_feed_etags = feed.EtagCache()


@router.get("/feeds/{token}.ics", name="get_feed",
            responses={200: {"content": {"text/calendar": {"schema": {"type": "string"}}}},
                       304: {"description": "unchanged"}, **problem_responses(404)})
async def get_feed(
    token: FeedToken, session: Session, flags: Flags,
    if_none_match: Annotated[str | None, Header(max_length=1024)] = None,
    if_modified_since: Annotated[str | None, Header(max_length=128)] = None,
) -> Response:
    """The calendar as a live ICS feed. The token in the path is the credential (every log
    line has it redacted by route pattern: core/redact.py).

    A conditional GET whose validator still holds is answered 304 after one small query, with
    no entry read and nothing rendered (exports/feed.py)."""
    revision = await service.feed_revision(session, token)
    if revision is None:
        raise NotFound("feed not found", code="feed_not_found")
    bind(userId=revision.user_id, calendarId=str(revision.calendar_id))
    if not flags.is_enabled(Flag.publish_service, revision.user_id):
        raise FeedUnavailable("live exports are switched off for now",
                              headers={"Retry-After": "300"})
    headers = {"Cache-Control": FEED_CACHE_CONTROL}
    modified = feed.last_modified_header(revision.last_modified, utcnow())
    if modified is not None:
        headers["Last-Modified"] = modified
    etag = _feed_etags.get(revision.key)
    if etag is not None and feed.not_modified(if_none_match, if_modified_since, etag,
                                              revision.last_modified):
        log.info("export.feed_served", status="not_modified", rendered=False)
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={**headers,
                                                                           "ETag": etag})
    # This revision has not been rendered here yet, or the client's copy is stale.
    file = await service.export_calendar(session, revision.user_id, revision.calendar_id,
                                         ExportFormat.ics)
    _feed_etags.put(revision.key, file.etag)
    headers["ETag"] = file.etag
    if feed.not_modified(if_none_match, if_modified_since, file.etag, revision.last_modified):
        file.close()
        log.info("export.feed_served", status="not_modified", rendered=True)
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    log.info("export.feed_served", status="ok", entryCount=file.entry_count)
    headers["X-Checksum"] = file.checksum
    headers["Content-Length"] = str(file.size)
    headers["Content-Disposition"] = f'inline; filename="{file.filename}"'
    return StreamingResponse(file.chunks(), media_type=file.media_type, headers=headers)


@router.post(
    "/calendars/import", response_model=ImportReport,
    responses={200: {"links": {
                   "entries": link("/v1/calendars/{calendar_id}/entries", "get",
                                   "the imported calendar's entries",
                                   calendar_id="$response.body#/calendarId")}},
               207: {"model": ImportReport, "description": "some rows were not imported"},
               413: TOO_LARGE_RESPONSE, **problem_responses(404, 409)},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": schema_ref(ImportDocument)},
        "text/csv": {"schema": {"type": "string", "description": (
            "A CSV in the postplan or bulk layout (docs/exports.md); a charset parameter "
            "is honoured, UTF-8 otherwise")}},
    }}},
)
async def import_calendar(
    request: Request, user: CurrentUser, session: WriteSession, settings: AppSettings,
    calendar_id: Annotated[uuid.UUID | None, Query(alias="calendarId")] = None,
) -> JSONResponse:
    """Import a JSON export or a CSV, idempotently by entry id (per-row errors reported)."""
    body = await request.body()
    parsed = service.parse_file(body, request.headers.get("content-type", ""))
    report = await service.import_file(session, user.id, parsed, calendar_id,
                                       max_entries=settings.max_entries_per_calendar)
    bind(calendarId=str(report.calendar_id))
    log.info("export.imported", kind=report.kind, created=report.created,
             updated=report.updated, unchanged=report.unchanged, failed=report.failed,
             status="partial" if report.errors else "ok")
    code = status.HTTP_207_MULTI_STATUS if report.errors else status.HTTP_200_OK
    return JSONResponse(report.model_dump(by_alias=True, mode="json"), status_code=code)
