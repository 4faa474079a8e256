"""Entries' uploaded media (`{mediaId}` items): checked on edit, described on read.

An edit may attach only the user's own files: another user's id, or one that does not exist,
is 404 `media_not_found` (the same answer for both, like every other id). A file still being
processed may be attached; a read reports its `status`, so the page can say "processing". A
read adds to each stored item what the page shows beside it: the file's kind, status, name,
thumbnail and the verdict of its inspection for the entry's channel and format (`check`).
These additions are read-only: an edit that sends them back has them dropped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from postplan.core.entryfields import stored_media_id
from postplan.core.errors import NotFound
from postplan.media import service as media
from postplan.models import CalendarEntry

__all__ = ["check_owned", "described_media"]


async def check_owned(session: AsyncSession, user_id: str,
                      items: Sequence[dict[str, Any]]) -> None:
    """404 `media_not_found` unless every stored item names one of the user's files."""
    ids = [mid for item in items if (mid := stored_media_id(item)) is not None]
    if not ids:
        return
    found = await media.get_user_media(session, user_id, ids)
    missing = sorted({str(i) for i in ids if i not in found})
    if missing:
        raise NotFound(f"{len(missing)} attached file(s) not found", code="media_not_found",
                       extra={"mediaIds": missing})


def _describe(item: dict[str, Any], row: Any, key: str,
              res: media.MediaResources) -> dict[str, Any]:
    out: dict[str, Any] = {"mediaId": item["mediaId"]}
    if row is None:
        out["status"] = "missing"
        return out
    thumb = media.THUMBNAIL if media.THUMBNAIL in (row.derived or {}) else None
    check = (row.checks or {}).get(key)
    out.update({
        "kind": row.kind,
        "status": row.status,
        "filename": row.filename,
        "contentType": row.content_type,
        "thumbnailUrl": media.content_url(res, row, thumb) if thumb else None,
        "check": ({"ok": bool(check.get("ok")), "findings": list(check.get("findings") or [])}
                  if isinstance(check, dict) else None),
    })
    if row.error:
        out["error"] = row.error
    return out


async def described_media(session: AsyncSession, res: media.MediaResources, user_id: str,
                          entries: Iterable[CalendarEntry]) -> dict[uuid.UUID, list[Any]]:
    """Each entry's `media` list as a read shows it, stored items described (one query)."""
    entries = list(entries)
    ids = {mid for e in entries for item in e.media or []
           if (mid := stored_media_id(item)) is not None}
    rows = await media.get_user_media(session, user_id, sorted(ids)) if ids else {}
    out: dict[uuid.UUID, list[Any]] = {}
    for entry in entries:
        key = f"{entry.channel}:{entry.format}"
        items = []
        for item in entry.media or []:
            mid = stored_media_id(item)
            items.append(dict(item) if mid is None else _describe(item, rows.get(mid), key, res))
        out[entry.id] = items
    return out
