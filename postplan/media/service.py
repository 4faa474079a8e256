"""The media domain's public module: what other domains (entries, the dry run, the publish
worker) and the endpoints use. Every query is scoped to one user; another user's id is 'not
found'.

    rows = await get_user_media(session, user_id, ids)   # {id: Media} (missing ids absent)
    out = media_out(res, row)                             # the API's Media, URLs signed now
    url = content_url(res, row, role)                     # signed URL of a copy (Instagram)
    role = publish_role(row, "instagram:image")           # which copy to publish
    chunks, size = await open_content(res, row, role)     # the bytes (TikTok FILE_UPLOAD)
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import Text, cast, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from postplan.core.pagination import After, keyset_page, split_page
from postplan.media.errors import MediaInUse, MediaNotFound
from postplan.media.resources import MediaResources
from postplan.media.resources import Resources as Resources  # for other domains' handlers
from postplan.media.resources import build_resources as build_resources  # for the worker
from postplan.media.schemas import MediaError, MediaOut, checks_out
from postplan.media.signing import ORIGINAL, signed_url
from postplan.models import CalendarEntry, Media, PublishIntent

__all__ = ["ORIGINAL", "MediaResources", "content_url", "delete_media", "get_media",
           "get_user_media", "in_use", "list_media", "media_out", "open_content",
           "publish_role", "remove_objects", "stored_keys", "usage_bytes"]

#: Intent statuses that will still read the file (the worker is about to send it).
ACTIVE_INTENT = ("pending", "claimed", "submitting", "processing")
THUMBNAIL = "thumbnail"


async def get_user_media(session: AsyncSession, user_id: str,
                         ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Media]:
    """The user's media rows among `ids`; another user's (or an unknown) id is simply absent."""
    if not ids:
        return {}
    rows = await session.scalars(
        select(Media).where(Media.user_id == user_id, Media.id.in_(set(ids))))
    return {row.id: row for row in rows}


async def get_media(session: AsyncSession, user_id: str, media_id: uuid.UUID) -> Media:
    """One of the user's media rows, or 404 `media_not_found`."""
    row = await session.scalar(
        select(Media).where(Media.user_id == user_id, Media.id == media_id))
    if row is None:
        raise MediaNotFound(f"no media {media_id}")
    return row


async def list_media(session: AsyncSession, user_id: str, after: After | None,
                     limit: int) -> tuple[Sequence[Media], str | None]:
    """The user's library, newest first, one keyset page."""
    stmt = keyset_page(select(Media).where(Media.user_id == user_id),
                       (Media.created_at, Media.id), after, limit + 1, descending=True)
    rows = (await session.scalars(stmt)).all()
    return split_page(rows, limit, lambda m: (m.created_at, m.id))


async def usage_bytes(session: AsyncSession, user_id: str) -> int:
    """Bytes the user's library holds (originals and derived copies)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Media.bytes), 0)).where(Media.user_id == user_id))
    return int(total or 0)


def stored_keys(row: Media) -> list[str]:
    """Every object stored for a row: the original and each derived copy."""
    keys = [row.storage_key]
    for copy in (row.derived or {}).values():
        if isinstance(copy, dict) and isinstance(copy.get("key"), str):
            keys.append(copy["key"])
    return keys


def content_url(res: MediaResources, row: Media, role: str = ORIGINAL) -> str:
    """The signed, expiring URL of one stored copy (under PUBLIC_BASE_URL)."""
    return signed_url(res.settings, res.key, row.id, role)


def publish_role(row: Media, check: str) -> str:
    """The copy to send for one `channel:format` check: its derived copy when inspection made
    one (Instagram's JPEG, TikTok's scaled photo), else the original."""
    entry = (row.checks or {}).get(check)
    derived = entry.get("derived") if isinstance(entry, dict) else None
    if isinstance(derived, str) and derived in (row.derived or {}):
        return derived
    return ORIGINAL


def copy_info(row: Media, role: str) -> tuple[str, str, int] | None:
    """(key, content type, size) of a stored copy; None when the row has no such copy."""
    if role == ORIGINAL:
        return row.storage_key, row.content_type, row.bytes
    copy = (row.derived or {}).get(role)
    if not isinstance(copy, dict):
        return None
    return str(copy["key"]), str(copy.get("contentType", "application/octet-stream")), int(
        copy.get("bytes", 0))


async def open_content(res: MediaResources, row: Media,
                       role: str = ORIGINAL) -> tuple[AsyncIterator[bytes], int, str]:
    """(the bytes in pieces, their size, content type) of one copy, for an upload to a
    platform; 404 when the copy does not exist."""
    info = copy_info(row, role)
    if info is None:
        raise MediaNotFound(f"media {row.id} has no {role} copy")
    key, content_type, size = info
    return res.store.read(key, 0, size), size, content_type


def media_out(res: MediaResources, row: Media) -> MediaOut:
    """The API's Media for a row, with freshly signed URLs."""
    derived = {role: content_url(res, row, role) for role in (row.derived or {})}
    return MediaOut(
        id=row.id, kind=row.kind, content_type=row.content_type,
        filename=row.filename, bytes=row.bytes, sha256=row.sha256, width=row.width,
        height=row.height, duration_seconds=row.duration_seconds, frame_rate=row.frame_rate,
        video_codec=row.video_codec, audio_codec=row.audio_codec,
        status=row.status,
        error=MediaError.model_validate(row.error) if row.error else None,
        checks=checks_out(row.checks), url=content_url(res, row),
        thumbnail_url=derived.get(THUMBNAIL), derived=derived, created_at=row.created_at)


async def in_use(session: AsyncSession, user_id: str, media_id: uuid.UUID) -> bool:
    """Whether an intent that will still send a file names this media: through its entry's
    `media` list, or in the request it stored when it was queued."""
    needle = f"%{media_id}%"
    found = await session.scalar(
        select(PublishIntent.id)
        .join(CalendarEntry, CalendarEntry.id == PublishIntent.entry_id, isouter=True)
        .where(PublishIntent.user_id == user_id,
               PublishIntent.dry_run.is_(False),
               PublishIntent.status.in_(ACTIVE_INTENT),
               or_(cast(CalendarEntry.media, Text).like(needle),
                   cast(PublishIntent.request, Text).like(needle)))
        .limit(1))
    return found is not None


async def delete_media(session: AsyncSession, user_id: str, media_id: uuid.UUID) -> list[str]:
    """Delete a row (in the caller's transaction); 409 `media_in_use` while an intent needs it.
    Returns the stored keys to remove with `remove_objects` once the transaction committed:
    a failed commit then leaves the files with their row, and a failed object delete leaves
    an orphan file (logged), never a row pointing at nothing."""
    row = await get_media(session, user_id, media_id)
    if await in_use(session, user_id, media_id):
        raise MediaInUse("a queued publish still needs this file; cancel it first",
                         extra={"mediaId": str(media_id)})
    keys = stored_keys(row)
    await session.execute(delete(Media).where(Media.id == media_id))
    return keys


async def remove_objects(res: MediaResources, keys: list[str]) -> None:
    """Remove stored copies (after the row is gone)."""
    await res.store.delete(keys)
