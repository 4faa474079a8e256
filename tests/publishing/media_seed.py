"""Media rows with their bytes in the local store, as the processing job leaves them: for tests
of entries, the dry run and the worker that must not wait for an upload and inspection."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.config import Settings
from postplan.core.db import create_sessionmaker
from postplan.media.storage import LocalStore
from postplan.models import Media

OK = {"ok": True, "findings": []}


async def _put(store: LocalStore, key: str, data: bytes) -> None:
    writer = store.writer(key)
    await writer.write(data)
    await writer.commit()


async def seed_media(engine: AsyncEngine, settings: Settings, *, user_id: str = "local",
                     kind: str = "video", data: bytes = b"\x00" * 2048,
                     content_type: str = "video/mp4", status: str = "ready",
                     checks: dict[str, Any] | None = None,
                     derived: dict[str, bytes] | None = None,
                     error: dict[str, str] | None = None) -> uuid.UUID:
    """One media row (`ready` with passing checks unless told) and its stored bytes;
    `derived` maps a role to the bytes of that copy (stored as JPEG)."""
    store = LocalStore(settings.media_dir)
    media_id = uuid.uuid4()
    key = f"{user_id}/{media_id}/original"
    await _put(store, key, data)
    copies: dict[str, Any] = {}
    for role, copy in (derived or {}).items():
        await _put(store, f"{user_id}/{media_id}/{role}", copy)
        copies[role] = {"key": f"{user_id}/{media_id}/{role}", "contentType": "image/jpeg",
                        "bytes": len(copy)}
    if checks is None:
        keys = (("tiktok:video", "instagram:reel") if kind == "video"
                else ("tiktok:photo", "instagram:image"))
        checks = {k: OK for k in keys}
    async with create_sessionmaker(engine)() as session:
        session.add(Media(id=media_id, user_id=user_id, kind=kind, content_type=content_type,
                          filename=f"file-{str(media_id)[:8]}", bytes=len(data),
                          sha256=hashlib.sha256(data).hexdigest(), storage_key=key,
                          status=status, checks=checks, derived=copies or None, error=error,
                          attempts=0))
        await session.commit()
    return media_id
