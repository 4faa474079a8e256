"""The processing job is driven from the table: a row left `processing` by a process that
stopped (or died holding the lease) is finished by the next start; a file that keeps failing is
rejected after a few attempts instead of forever."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from postplan.cli import worker as worker_cli
from postplan.config import get_settings
from postplan.core.db import create_engine, create_sessionmaker, utcnow
from postplan.models import Media
from postplan.publishing.worker.context import WorkerConfig
from tests.media.conftest import (
    BOTH_BACKENDS,
    USER,
    mp4_bytes,
    orphan_sweep_removes_only_orphans,
    png_bytes,
    upload,
    wait_status,
)


async def _edit(db_url: str, media_id: str, **values: Any) -> None:
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await session.execute(update(Media).where(Media.id == uuid.UUID(media_id))
                                  .values(**values))
    finally:
        await engine.dispose()


@BOTH_BACKENDS
async def test_processing_survives_a_restart(backend: str, db_url: str,
                                             media_client: Callable[..., Any]) -> None:
    async with media_client(MEDIA_PROCESSING_ENABLED=False) as client:
        video = (await upload(client, mp4_bytes(), "clip.mp4")).json()
        image = (await upload(client, png_bytes(), "p.png")).json()
        stuck = (await upload(client, png_bytes(), "q.png")).json()
    # The first process died while holding the video's lease (it expired a moment ago); the
    # third file already failed its tries.
    await _edit(db_url, video["id"], attempts=1,
                lease_expires_at=utcnow() - dt.timedelta(seconds=1))
    await _edit(db_url, stuck["id"], attempts=3)
    async with media_client() as client:
        assert (await wait_status(client, video["id"]))["status"] == "ready"
        assert (await wait_status(client, image["id"]))["status"] == "ready"
        failed = await wait_status(client, stuck["id"])
        assert failed["status"] == "rejected"
        assert failed["error"]["code"] == "inspection_failed"


async def test_a_live_lease_is_left_alone(db_url: str,
                                          media_client: Callable[..., Any]) -> None:
    async with media_client(MEDIA_PROCESSING_ENABLED=False) as client:
        media = (await upload(client, png_bytes(), "p.png")).json()
    await _edit(db_url, media["id"], lease_expires_at=utcnow() + dt.timedelta(minutes=10))
    async with media_client() as client:
        assert (await wait_status(client, media["id"], within=1.0))["status"] == "processing"
        metrics = (await client.get("/metrics")).text
        assert "postplan_media_processing_queue_depth 1.0" in metrics
        assert (await client.get("/v1/media", headers=USER)).json()["items"][0]["status"] \
            == "processing"


async def test_the_worker_command_inspects_waiting_uploads(
        db_url: str, media_dir: Path, media_client: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`postplan worker --once` (its coroutine, in this process) drains waiting uploads."""
    async with media_client(MEDIA_PROCESSING_ENABLED=False) as client:
        media = (await upload(client, png_bytes(), "w.png")).json()
    for name, value in {"DATABASE_URL": db_url, "MEDIA_DIR": str(media_dir),
                        "MEDIA_SIGNING_KEY": "test-signing-key", "AUTH_MODE": "dev",
                        "SPOOL_DIR": str(media_dir / "spool")}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        await worker_cli._run(WorkerConfig(), once=True)
    finally:
        get_settings.cache_clear()
    async with media_client(MEDIA_PROCESSING_ENABLED=False) as client:
        body = (await client.get(f"/v1/media/{media['id']}", headers=USER)).json()
        assert body["status"] == "ready" and body["checks"]


async def test_files_no_row_names_are_swept_once_old(
    db_url: str, media_settings: Callable[..., Any], media_client: Callable[..., Any],
) -> None:
    """A file whose row is gone (a failed object delete, a process that died between storing
    and recording an upload) is removed once older than MEDIA_ORPHAN_HOURS; the files of
    existing rows and anything not named by a media id stay."""
    settings = media_settings(MEDIA_PROCESSING_ENABLED=False)
    async with media_client(MEDIA_PROCESSING_ENABLED=False) as client:
        got = await orphan_sweep_removes_only_orphans(settings, db_url, client)
    assert got["young"] == []
    assert got["old"] == got["orphan"]
    assert got["left"] == sorted([f"{got['kept'][0]}/original", "notes/readme.txt"])
