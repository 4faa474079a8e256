"""Resumable uploads: the tus 1.0.0 core protocol with the creation, termination and
expiration extensions, at `/v1/media/uploads/` (https://tus.io/protocols/resumable-upload).

    POST   /v1/media/uploads           Upload-Length, Upload-Metadata (filename) -> 201 Location
    HEAD   /v1/media/uploads/{id}      -> Upload-Offset, Upload-Length (GET: the same as JSON)
    PATCH  /v1/media/uploads/{id}      Upload-Offset, application/offset+octet-stream body
    DELETE /v1/media/uploads/{id}      -> 204, the bytes so far removed

Written here rather than taken from `tuspyserver`: that package keeps its own files and info
documents on local disk and runs its own hooks, while an upload here must finish into the same
media row, under the same limits and quota, through the same store (local or S3) as a plain
upload. The bytes so far sit in `MEDIA_DIR/.uploads/<id>` (the file's size is the offset, so a
crash mid-PATCH loses nothing that reached the disk); the PATCH that brings the last byte
streams the file into the store (`ingest`) and answers with `Upload-Media-Id`. Several API
processes need a shared MEDIA_DIR or sticky routing for one upload (docs/media.md).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from sqlalchemy import delete, select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from postplan.core.auth import CurrentUser
from postplan.core.db import utcnow
from postplan.core.deps import write_sessionmaker
from postplan.core.openapi import problem_responses
from postplan.core.schemas import Schema
from postplan.media.errors import BadUpload, EmptyMedia, MediaNotFound, UploadOffsetMismatch
from postplan.media.ingest import check_filename, ingest, limits_for
from postplan.media.resources import MediaResources, Resources, upload_path
from postplan.media.storage import CHUNK
from postplan.models import MediaUpload

router = APIRouter(prefix="/media/uploads", tags=["media"])

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration"
OFFSET_TYPE = "application/offset+octet-stream"
#: The largest Upload-Length / Upload-Offset parsed at all (MEDIA_MAX_BYTES is checked after).
MAX_LENGTH = 1 << 50

#: One PATCH at a time per upload in this process (a second one waits, then sees the offset).
_locks: dict[uuid.UUID, asyncio.Lock] = {}


class UploadState(Schema):
    id: uuid.UUID
    offset: int
    length: int
    filename: str
    #: The media the upload became, once its last byte arrived.
    media_id: uuid.UUID | None = None
    expires_at: dt.datetime


def _file(res: MediaResources, upload_id: uuid.UUID) -> Path:
    return upload_path(res.settings, upload_id)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _tus_headers(res: MediaResources) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS, "Tus-Max-Size": str(res.settings.media_max_bytes)}


def _filename(metadata: str | None) -> str | None:
    """The `filename` pair of Upload-Metadata (`key base64value,...`)."""
    for pair in (metadata or "").split(","):
        key, _, value = pair.strip().partition(" ")
        if key == "filename":
            try:
                return base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise BadUpload("Upload-Metadata filename is not base64 UTF-8") from exc
    return None


async def _load(request: Request, user_id: str, upload_id: uuid.UUID) -> MediaUpload:
    async with request.app.state.sessionmaker() as session:
        row: MediaUpload | None = await session.scalar(select(MediaUpload).where(
            MediaUpload.id == upload_id, MediaUpload.user_id == user_id))
    if row is None or row.expires_at < utcnow():
        raise MediaNotFound(f"no upload {upload_id}")
    return row


@router.api_route("", methods=["GET", "HEAD", "PATCH", "DELETE"], include_in_schema=False)
async def uploads_is_options_and_post_only() -> None:
    """`/media/uploads` is not a media id: only OPTIONS and POST exist there (405, not a 422 for
    a malformed id from `/media/{media_id}`, whose router comes after this one)."""
    raise StarletteHTTPException(status_code=405)


@router.options("", status_code=204)
async def tus_options(_user: CurrentUser, res: Resources) -> Response:
    """What this tus server supports."""
    return Response(status_code=204, headers=_tus_headers(res))


# No body: the answer is its headers (`Location`, `Upload-Expires`), so none is documented.
@router.post("", status_code=201, response_class=Response,
             responses=problem_responses(413, 422))
async def create_upload(
    request: Request, user: CurrentUser, res: Resources,
    upload_length: Annotated[int, Header(ge=0, le=MAX_LENGTH)],
    upload_metadata: Annotated[str | None, Header(max_length=4096)] = None,
) -> Response:
    """Start a resumable upload of `Upload-Length` bytes (tus creation)."""
    filename = check_filename(_filename(upload_metadata))
    if upload_length == 0:
        raise EmptyMedia("the file is empty (0 bytes)")
    async with request.app.state.sessionmaker() as session:
        limits = await limits_for(session, res, user.id)
    if upload_length > limits.bound:
        raise limits.exceeded(upload_length)
    now = utcnow()
    row = MediaUpload(id=uuid.uuid4(), user_id=user.id, filename=filename,
                      length=upload_length, offset=0, created_at=now,
                      expires_at=now + dt.timedelta(seconds=res.settings.media_upload_ttl_seconds))
    _file(res, row.id).parent.mkdir(parents=True, exist_ok=True)
    _file(res, row.id).touch()
    async with write_sessionmaker(request)() as session, session.begin():
        session.add(row)
    return Response(status_code=201, headers={
        **_tus_headers(res), "Location": f"/v1/media/uploads/{row.id}",
        "Upload-Expires": row.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT")})


@router.get("/{upload_id}", response_model=UploadState, responses=problem_responses(404))
async def upload_state(upload_id: uuid.UUID, request: Request, user: CurrentUser,
                       res: Resources, response: Response) -> UploadState:
    """Where an upload stands (answered to HEAD too: tus reads the headers)."""
    row = await _load(request, user.id, upload_id)
    offset = row.length if row.media_id else min(_size(_file(res, upload_id)), row.length)
    response.headers.update({**_tus_headers(res), "Upload-Offset": str(offset),
                             "Upload-Length": str(row.length), "Cache-Control": "no-store"})
    if row.media_id:
        response.headers["Upload-Media-Id"] = str(row.media_id)
    return UploadState(id=row.id, offset=offset, length=row.length, filename=row.filename,
                       media_id=row.media_id, expires_at=row.expires_at)


async def _append(request: Request, path: Path, room: int) -> int:
    """Append the request body to the file (at most `room` bytes); returns bytes written.
    What arrived before a disconnect stays: that is the point of resuming."""
    written = 0
    handle = await asyncio.to_thread(open, path, "ab")
    try:
        buffer = bytearray()
        try:
            async for chunk in request.stream():
                if written + len(buffer) + len(chunk) > room:
                    raise BadUpload("the body goes past Upload-Length")
                buffer += chunk
                if len(buffer) >= CHUNK:
                    handle.write(buffer)
                    written += len(buffer)
                    buffer.clear()
        finally:
            handle.write(buffer)
            written += len(buffer)
    finally:
        handle.close()
    return written


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(open, path, "rb")
    with handle:
        while data := await asyncio.to_thread(handle.read, CHUNK):
            yield data


@router.patch("/{upload_id}", status_code=204, responses=problem_responses(404, 409, 413, 415))
async def append_upload(
    upload_id: uuid.UUID, request: Request, user: CurrentUser, res: Resources,
    upload_offset: Annotated[int, Header(ge=0, le=MAX_LENGTH)],
) -> Response:
    """Append bytes at `Upload-Offset`; the last byte makes the media (`Upload-Media-Id`)."""
    if (request.headers.get("content-type") or "").split(";")[0].strip() != OFFSET_TYPE:
        raise BadUpload(f"send the bytes as {OFFSET_TYPE}", status_code=415,
                        code="unsupported_media_type")
    row = await _load(request, user.id, upload_id)
    path = _file(res, upload_id)
    lock = _locks.setdefault(upload_id, asyncio.Lock())
    async with lock:
        offset = _size(path)
        if row.media_id is not None or upload_offset != offset:
            raise UploadOffsetMismatch(f"the upload is at offset {offset}",
                                       headers={"Upload-Offset": str(offset)})
        try:
            offset += await _append(request, path, row.length - offset)
        except ClientDisconnect:
            return Response(status_code=204)  # the client is gone; the bytes stay for HEAD
        headers = {**_tus_headers(res), "Upload-Offset": str(offset)}
        if offset < row.length:
            return Response(status_code=204, headers=headers)
        maker = write_sessionmaker(request)
        try:
            async with request.app.state.sessionmaker() as session:
                limits = await limits_for(session, res, user.id)
            media = await ingest(maker, res, user.id, row.filename, _file_chunks(path),
                                 limits=limits, transport="tus")
        except BaseException:
            # The whole file is refused (type, quota): the upload cannot succeed any more.
            await _remove(request, res, upload_id)
            raise
        async with maker() as session, session.begin():
            stored = await session.get(MediaUpload, upload_id)
            if stored is not None:
                stored.offset, stored.media_id = offset, media.id
        path.unlink(missing_ok=True)
        _locks.pop(upload_id, None)
        return Response(status_code=204, headers={**headers, "Upload-Media-Id": str(media.id)})


async def _remove(request: Request, res: MediaResources, upload_id: uuid.UUID) -> None:
    async with write_sessionmaker(request)() as session, session.begin():
        await session.execute(delete(MediaUpload).where(MediaUpload.id == upload_id))
    _file(res, upload_id).unlink(missing_ok=True)
    _locks.pop(upload_id, None)


@router.delete("/{upload_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=problem_responses(404))
async def terminate_upload(upload_id: uuid.UUID, request: Request, user: CurrentUser,
                           res: Resources) -> Response:
    """Abandon an upload (tus termination): its bytes so far are removed."""
    await _load(request, user.id, upload_id)
    await _remove(request, res, upload_id)
    return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})
