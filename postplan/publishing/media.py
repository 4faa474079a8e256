"""Media postplan stores, in a publish: what the dry run checks and what the adapters receive.

An entry's `media` list holds `{mediaId}` (a file uploaded to postplan) or `{url, type}` (a file
hosted elsewhere). For a stored file the dry run reads the inspection's verdict for the entry's
channel and format (`checks["tiktok:video"]`...), so a dry run that passes means the platform
will take the file: `media_not_ready` while it is still processing, `media_rejected` when it could
not be read, and the check's own findings (too short, wrong aspect ratio...) otherwise.

What the platform receives is the copy inspection chose for that channel and format (a derived
JPEG for Instagram, a scaled photo for TikTok, else the original): Instagram and TikTok photos
pull it from its signed URL under PUBLIC_BASE_URL, a TikTok video is uploaded from storage
(FILE_UPLOAD). The worker signs the URL again and binds the request to the user's storage just
before sending (`bind_stored_media`): a URL signed when the intent was queued may have expired,
and a stored request names a file only by id, read with the intent's own user.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal, cast

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from postplan.channels.base import (
    ByteSource,
    Finding,
    MediaRef,
    PermanentError,
    PublishRequest,
)
from postplan.channels.tiktok.source import MediaSource
from postplan.config import Settings
from postplan.core.entryfields import stored_media_id
from postplan.media import service as media
from postplan.models import CalendarEntry

__all__ = [
    "COVER_CHECK",
    "attached_media",
    "bind_stored_media",
    "check_key",
    "load_entry_media",
    "media_signature",
    "resources_for",
    "with_cover",
]

_RESOURCES: dict[int, tuple[Settings, media.MediaResources]] = {}

#: The inspection verdict for an image used as an Instagram reel's cover.
COVER_CHECK = "instagram:cover"
_COVER_FIELD = "channelOptions.instagram.coverMediaId"


def resources_for(settings: Settings) -> media.MediaResources:
    """The media store and signing key for `settings`, built once per Settings object."""
    found = _RESOURCES.get(id(settings))
    if found is None or found[0] is not settings:
        found = (settings, media.build_resources(settings))
        _RESOURCES[id(settings)] = found
    return found[1]


def check_key(channel: str, fmt: str) -> str:
    """The key of a file's `checks` for one channel and format (`tiktok:video`)."""
    return f"{channel}:{fmt}"


async def load_entry_media(session: AsyncSession, user_id: str,
                           entries: Iterable[CalendarEntry]) -> dict[uuid.UUID, Any]:
    """The user's media rows the entries name, in one query (another user's ids are absent)."""
    entries = list(entries)
    ids = {mid for e in entries for item in e.media or []
           if (mid := stored_media_id(item)) is not None}
    ids |= {mid for e in entries if (mid := cover_media_id(e)) is not None}
    return dict(await media.get_user_media(session, user_id, sorted(ids)))


def cover_media_id(entry: CalendarEntry) -> uuid.UUID | None:
    """The stored file an Instagram entry chose as its reel cover (`coverMediaId`), if any."""
    options = entry.channel_options or {}
    block = options.get("instagram") if isinstance(options, Mapping) else None
    raw = block.get("coverMediaId") if isinstance(block, Mapping) else None
    return stored_media_id({"mediaId": str(raw)}) if raw else None


def media_signature(entry: CalendarEntry, rows: Mapping[uuid.UUID, Any]) -> str:
    """What a dry run's verdict on the entry's stored files depends on besides the entry's
    version: each file's status and last change (processing finishing changes the verdict, not
    the entry). Empty for an entry without stored files."""
    parts = []
    for item in entry.media or []:
        mid = stored_media_id(item)
        if mid is not None:
            row = rows.get(mid)
            parts.append(f"{mid}:{row.status}:{row.updated_at.isoformat()}" if row is not None
                         else f"{mid}:missing")
    return "|".join(parts)


def _stored_ref(res: media.MediaResources, row: Any, key: str) -> MediaRef:
    role = media.publish_role(row, key)
    info = media.copy_info(row, role)
    size, content_type = (info[2], info[1]) if info else (row.bytes, row.content_type)
    return MediaRef(url=media.content_url(res, row, role),
                    type=cast(Literal["image", "video"], row.kind),
                    media_id=str(row.id), size=size, content_type=content_type,
                    duration_seconds=row.duration_seconds)


def _row_findings(row: Any, key: str, field: str) -> list[Finding]:
    if row.status == "processing":
        return [Finding(code="media_not_ready", field=field,
                        message=f"{row.filename} is still being processed; try again shortly.")]
    if row.status == "rejected":
        reason = (row.error or {}).get("message") or "it could not be read as an image or video"
        return [Finding(code="media_rejected", field=field,
                        message=f"{row.filename} was rejected: {reason}.")]
    check = (row.checks or {}).get(key)
    if not isinstance(check, dict) or check.get("ok"):
        # No verdict for this channel and format means the kind does not fit it (an image on
        # a video post): the adapter's own media rules say so.
        return []
    out = []
    for item in check.get("findings") or []:
        if isinstance(item, dict) and item.get("code"):
            out.append(Finding(code=str(item["code"]), field=field,
                               message=f"{row.filename}: {item.get('message') or item['code']}"))
    return out or [Finding(code="media_not_accepted", field=field,
                           message=f"{row.filename} does not meet this platform's limits.")]


def attached_media(entry: CalendarEntry, rows: Mapping[uuid.UUID, Any],
                   res: media.MediaResources) -> tuple[list[MediaRef], list[Finding]]:
    """The entry's media as the adapter's refs, in order, and the stored files' findings for
    the entry's channel and format (empty when the platform will take every file)."""
    key = check_key(entry.channel, entry.format)
    refs: list[MediaRef] = []
    findings: list[Finding] = []
    for i, item in enumerate(entry.media or []):
        field = f"media[{i}]"
        mid = stored_media_id(item)
        if mid is None:
            kind = "video" if item.get("type") == "video" else "image"
            refs.append(MediaRef(url=str(item.get("url", "")),
                                 type=cast(Literal["image", "video"], kind)))
            continue
        row = rows.get(mid)
        if row is None:
            findings.append(Finding(code="media_not_found", field=field,
                                    message="An attached file was deleted; attach another."))
            continue
        findings += _row_findings(row, key, field)
        refs.append(_stored_ref(res, row, key))
    if entry.channel == "instagram" and (cover := cover_media_id(entry)) is not None:
        findings += _cover_findings(rows.get(cover))
    return refs, findings


def _cover_findings(row: Any) -> list[Finding]:
    """What stops a stored file from being the reel's cover (empty when it can be)."""
    if row is None:
        return [Finding(code="media_not_found", field=_COVER_FIELD,
                        message="The chosen cover image was deleted; choose another.")]
    if row.kind != "image":
        return [Finding(code="cover_not_image", field=_COVER_FIELD,
                        message=f"{row.filename} is a video; a reel cover is an image.")]
    return _row_findings(row, COVER_CHECK, _COVER_FIELD)


def cover_url(res: media.MediaResources, row: Any) -> str:
    """A fresh signed URL of the copy Instagram takes as a reel cover (its JPEG)."""
    return media.content_url(res, row, media.publish_role(row, COVER_CHECK))


def with_cover(req: PublishRequest, rows: Mapping[uuid.UUID, Any],
               res: media.MediaResources) -> PublishRequest:
    """`req` as it will be sent, for showing its payload (dry run, preview): the chosen cover's
    signed `cover_url` added when the file can be the cover. The stored request keeps only
    the id (`cover_media_id`); the worker signs its own URL at send time."""
    raw = req.options.get("cover_media_id")
    cover = stored_media_id({"mediaId": str(raw)}) if raw else None
    row = rows.get(cover) if cover is not None else None
    if row is None or _cover_findings(row):
        return req
    return req.model_copy(update={"options": {**req.options, "cover_url": cover_url(res, row)}})


def _opener(res: media.MediaResources, rows: Mapping[str, Any], roles: Mapping[str, str]
            ) -> Any:
    @asynccontextmanager
    async def open_stored(ref: MediaRef) -> AsyncIterator[ByteSource]:
        row = rows.get(str(ref.media_id))
        if row is None:
            raise PermanentError("media_not_found", "The attached file no longer exists.")
        chunks, size, content_type = await media.open_content(res, row, roles[str(row.id)])
        source = MediaSource(chunks, size, content_type)
        try:
            yield source
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()

    return open_stored


async def bind_stored_media(engine: AsyncEngine, settings: Settings, user_id: str,
                            req: PublishRequest) -> PublishRequest:
    """`req` with fresh signed URLs for its stored files and their bytes readable through
    `open_media`, read as `user_id`'s: a file deleted (or never the user's) is a
    PermanentError `media_not_found`, and nothing is sent."""
    stored = [m for m in req.media if m.media_id is not None]
    cover = req.options.get("cover_media_id")
    if not stored and not cover:
        return req
    try:
        ids = [uuid.UUID(str(m.media_id)) for m in stored]
        cover_id = uuid.UUID(str(cover)) if cover else None
    except ValueError:
        raise PermanentError("media_not_found", "An attached file id is not valid.") from None
    async with AsyncSession(bind=engine, expire_on_commit=False) as session:
        rows = await media.get_user_media(
            session, user_id, [*ids, *([cover_id] if cover_id else [])])
    if any(mid not in rows for mid in ids):
        raise PermanentError("media_not_found",
                             "An attached file was deleted before the post was sent.")
    res = resources_for(settings)
    bound = req
    if cover_id is not None:
        row = rows.get(cover_id)
        if problems := _cover_findings(row):
            raise PermanentError(problems[0].code, problems[0].message)
        bound = bound.model_copy(update={"options": {**req.options,
                                                     "cover_url": cover_url(res, row)}})
    if not stored:
        return bound
    key = check_key(req.channel.value, req.format.value)
    attached = set(ids)
    by_id = {str(mid): row for mid, row in rows.items() if mid in attached}
    refs: list[MediaRef] = []
    for ref in req.media:
        refs.append(_stored_ref(res, by_id[str(ref.media_id)], key)
                    if ref.media_id is not None else ref)
    roles = {mid: media.publish_role(row, key) for mid, row in by_id.items()}
    bound = bound.model_copy(update={"media": refs})
    return bound.with_opener(_opener(res, by_id, roles))


def stored_ids(items: Sequence[dict[str, Any]]) -> list[uuid.UUID]:
    """The ids of an entry's stored media items, in order."""
    return [mid for item in items if (mid := stored_media_id(item)) is not None]
