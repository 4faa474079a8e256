"""The media library over HTTP (docs/contract.md §8): upload, list, read, delete, content."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import FileResponse, StreamingResponse
from starlette.requests import ClientDisconnect

from postplan.core.auth import CurrentUser, current_user
from postplan.core.deps import Session, WriteSession, write_sessionmaker
from postplan.core.openapi import problem_responses
from postplan.core.pagination import Cursor, decode_cursor
from postplan.media import service
from postplan.media.errors import BadUpload, MediaNotFound
from postplan.media.ingest import check_filename, ingest, limits_for
from postplan.media.multipart import PARTS_MAX, FilePart
from postplan.media.ranges import parse_range
from postplan.media.resources import Resources
from postplan.media.schemas import MediaOut, MediaPage
from postplan.media.signing import ORIGINAL, verify
from postplan.models import Media

router = APIRouter(tags=["media"])

#: Multipart overhead allowed beyond the file itself before a Content-Length is refused early.
_OVERHEAD = 1 << 20

#: The documented bound of `file` is the default MEDIA_MAX_BYTES (the server's own is enforced).
_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {
    "schema": {"type": "object", "required": ["file"], "maxProperties": PARTS_MAX,
               "properties": {"file": {"type": "string", "format": "binary",
                                       "maxLength": 4 << 30}}}}}}}


@router.post("/media", status_code=status.HTTP_201_CREATED, response_model=MediaOut,
             openapi_extra=_UPLOAD_BODY,
             responses=problem_responses(413, 415, 422))
async def upload_media(request: Request, user: CurrentUser, res: Resources) -> MediaOut:
    """Upload one image or video (multipart field `file`), streamed to storage; 201 with the
    Media (`status: processing` until inspection is done)."""
    maker = write_sessionmaker(request)
    async with request.app.state.sessionmaker() as session:
        limits = await limits_for(session, res, user.id)
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limits.bound + _OVERHEAD:
        raise limits.exceeded(int(length) - _OVERHEAD)
    part = FilePart(request)
    try:
        filename = check_filename(await part.open())
        row = await ingest(maker, res, user.id, filename, part.chunks(), limits=limits,
                           transport="multipart")
    except ClientDisconnect as exc:
        # Nothing is stored (ingest aborted its writer); the client is gone anyway.
        raise BadUpload("the client went away before the upload finished") from exc
    return service.media_out(res, row)


@router.get("/media", response_model=MediaPage)
async def list_media(user: CurrentUser, session: Session, res: Resources,
                     cursor: Cursor = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50) -> MediaPage:
    """The user's library, newest first."""
    rows, next_cursor = await service.list_media(session, user.id, decode_cursor(cursor), limit)
    return MediaPage(items=[service.media_out(res, r) for r in rows], next_cursor=next_cursor)


@router.get("/media/{media_id}", response_model=MediaOut, responses=problem_responses(404))
async def get_media(media_id: uuid.UUID, user: CurrentUser, session: Session,
                    res: Resources) -> MediaOut:
    """One file of the user's library."""
    return service.media_out(res, await service.get_media(session, user.id, media_id))


@router.delete("/media/{media_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=problem_responses(404, 409))
async def delete_media(media_id: uuid.UUID, user: CurrentUser, session: WriteSession,
                       res: Resources) -> Response:
    """Delete a file and every stored copy; 409 `media_in_use` while a queued publish needs
    it."""
    keys = await service.delete_media(session, user.id, media_id)
    await session.commit()
    await service.remove_objects(res, keys)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/media/{media_id}/content", response_class=Response,
            responses={200: {"description": "The bytes"}, 206: {"description": "A range"},
                       **problem_responses(401, 403, 404, 416)})
async def media_content(
    request: Request, media_id: uuid.UUID, session: Session, res: Resources,
    exp: Annotated[str | None, Query(max_length=16)] = None,
    sig: Annotated[str | None, Query(max_length=128)] = None,
    role: Annotated[str, Query(max_length=32, pattern=r"^[a-z0-9-]+$")] = ORIGINAL,
) -> Response:
    """The bytes of a file (or, with `role`, a derived copy), with `Range` support. The owner
    reads with their credentials; anyone holding an unexpired signed URL reads without."""
    if exp is not None or sig is not None:
        verify(res.key, media_id, role, exp or "", sig or "")
        row = await session.get(Media, media_id)
    else:
        user = await current_user(request)
        row = await session.get(Media, media_id)
        if row is not None and row.user_id != user.id:
            row = None
    if row is None:
        raise MediaNotFound(f"no media {media_id}")
    info = service.copy_info(row, role)
    if info is None:
        raise MediaNotFound(f"media {media_id} has no {role} copy")
    key, content_type, size = info
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=300",
               "ETag": f'"{row.sha256[:32]}-{role}"',
               "X-Content-Type-Options": "nosniff"}
    wanted = parse_range(request.headers.get("range"), size)
    if wanted is None and "range" in request.headers:
        # A Range this service does not serve (several ranges, garbage): the whole file, 200.
        request.scope["headers"] = [(k, v) for k, v in request.scope["headers"]
                                    if k != b"range"]
    path = res.store.local_path(key)
    if path is not None:
        # Starlette's FileResponse streams from the file (sendfile where the server has it)
        # and answers the Range itself; ours was checked above so a bad one is problem+json.
        return FileResponse(path, media_type=content_type, headers=headers,
                            content_disposition_type="inline")
    start, end = wanted if wanted is not None else (0, size)
    headers["Content-Length"] = str(end - start)
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return StreamingResponse(res.store.read(key, start, end), media_type=content_type,
                             headers=headers, status_code=206 if wanted is not None else 200)
