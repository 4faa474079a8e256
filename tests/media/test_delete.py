"""DELETE /v1/media/{id}: every stored copy goes; 409 while a queued publish needs the file."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from postplan.core.db import create_engine, create_sessionmaker
from postplan.models import Calendar, CalendarEntry, PublishIntent
from tests.media.conftest import (
    BOTH_BACKENDS,
    OTHER,
    USER,
    png_bytes,
    stored_files,
    upload,
    wait_status,
)


async def _queue_intent(db_url: str, media_id: str, status: str) -> uuid.UUID:
    """A calendar entry using the media and a publish intent for it in `status`."""
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            cal = Calendar(user_id="media-user", name="C", brief={"brand": "b"}, timezone="UTC")
            session.add(cal)
            await session.flush()
            entry = CalendarEntry(
                calendar_id=cal.id, user_id="media-user", channel="instagram", format="image",
                scheduled_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC), timezone="UTC",
                media=[{"mediaId": media_id}])
            session.add(entry)
            await session.flush()
            intent = PublishIntent(calendar_id=cal.id, entry_id=entry.id, user_id="media-user",
                                   channel="instagram", payload={}, status=status,
                                   dry_run=False)
            session.add(intent)
            await session.flush()
            return intent.id
    finally:
        await engine.dispose()


async def _set_status(db_url: str, intent_id: uuid.UUID, status: str) -> None:
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            intent = await session.get(PublishIntent, intent_id)
            assert intent is not None
            intent.status = status
    finally:
        await engine.dispose()


@BOTH_BACKENDS
async def test_delete_removes_every_copy_and_refuses_while_in_use(
        backend: str, db_url: str, media_client: Callable[..., Any], media_dir: Path) -> None:
    async with media_client() as client:
        media = (await upload(client, png_bytes((1200, 1200)), "a.png")).json()
        done = await wait_status(client, media["id"])
        assert done["status"] == "ready" and done["derived"]
        assert len(stored_files(media_dir)) == 1 + len(done["derived"])
        intent = await _queue_intent(db_url, media["id"], "pending")
        res = await client.delete(f"/v1/media/{media['id']}", headers=USER)
        assert res.status_code == 409 and res.json()["code"] == "media_in_use"
        assert len(stored_files(media_dir)) == 1 + len(done["derived"])
        # Someone else cannot even see it.
        assert (await client.delete(f"/v1/media/{media['id']}", headers=OTHER)).status_code \
            == 404
        await _set_status(db_url, intent, "published")
        res = await client.delete(f"/v1/media/{media['id']}", headers=USER)
        assert res.status_code == 204
        assert (await client.get(f"/v1/media/{media['id']}", headers=USER)).status_code == 404
        assert (await client.delete(f"/v1/media/{media['id']}", headers=USER)).status_code \
            == 404
    assert stored_files(media_dir) == []
