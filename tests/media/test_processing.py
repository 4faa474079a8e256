"""The processing job is driven from the table: a row left `processing` by a process that
stopped (or died holding the lease) is finished by the next start; a file that keeps failing is
rejected after a few attempts instead of forever."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import update

from postplan.core.db import create_engine, create_sessionmaker, utcnow
from postplan.models import Media
from tests.media.conftest import BOTH_BACKENDS, USER, mp4_bytes, png_bytes, upload, wait_status


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
        db_url: str, media_dir: Path, media_client: Callable[..., Any]) -> None:
    async with media_client(MEDIA_PROCESSING_ENABLED=False) as client:
        media = (await upload(client, png_bytes(), "w.png")).json()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "AUTH_MODE"}}
    env.update({"DATABASE_URL": db_url, "MEDIA_DIR": str(media_dir),
                "MEDIA_SIGNING_KEY": "test-signing-key", "SPOOL_DIR": str(media_dir / "s")})
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "postplan.cli", "worker", "--once"], env=env,
        capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    async with media_client(MEDIA_PROCESSING_ENABLED=False) as client:
        body = (await client.get(f"/v1/media/{media['id']}", headers=USER)).json()
        assert body["status"] == "ready" and body["checks"]
