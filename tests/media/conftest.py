"""Media test helpers: small real files (Pillow images, a 1 s ffmpeg clip), an app whose media
folder is the test's own, and waiting for the processing job."""

from __future__ import annotations

import asyncio
import io
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from postplan.config import Settings
from tests.fixtures.apps import build_app, in_process_client

USER = {"X-User-Id": "media-user"}
OTHER = {"X-User-Id": "someone-else"}


def png_bytes(size: tuple[int, int] = (64, 48), color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "blue").save(buf, "JPEG")
    return buf.getvalue()


_CLIP: dict[str, bytes] = {}


def mp4_bytes() -> bytes:
    """A 1 s 320x568 H.264/AAC clip (made once per test process)."""
    if "mp4" not in _CLIP:
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "clip.mp4"
            subprocess.run(
                ["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                 "testsrc=size=320x568:rate=30:d=1", "-f", "lavfi", "-i",
                 "sine=frequency=440:duration=1", "-c:v", "libx264", "-preset", "ultrafast",
                 "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-movflags", "+faststart",
                 str(out)], capture_output=True, check=True, timeout=60)
            _CLIP["mp4"] = out.read_bytes()
    return _CLIP["mp4"]


def stored_files(media_dir: Path) -> list[Path]:
    """Every file in the media folder but the signing key (partial files included)."""
    if not media_dir.exists():
        return []
    return sorted(p for p in media_dir.rglob("*") if p.is_file() and p.name != ".signing-key")


async def wait_status(client: httpx.AsyncClient, media_id: str, *, within: float = 30.0,
                      headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Poll the media until it leaves `processing`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        body: dict[str, Any] = (await client.get(f"/v1/media/{media_id}",
                                                 headers=headers or USER)).json()
        if body["status"] != "processing" or loop.time() > deadline:
            return body
        await asyncio.sleep(0.05)


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Media tests run on SQLite; those marked `BOTH_BACKENDS` on Postgres too (storage is
    the same code on both, so one test per kind of query is enough there)."""
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
    return str(request.param)


BOTH_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def media_settings(settings_factory: Callable[..., Settings], media_dir: Path
                   ) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        overrides.setdefault("MEDIA_DIR", str(media_dir))
        overrides.setdefault("MEDIA_POLL_SECONDS", 0.2)
        overrides.setdefault("MEDIA_SIGNING_KEY", "test-signing-key")
        return settings_factory(**overrides)

    return factory


@pytest.fixture
def media_client(media_settings: Callable[..., Settings]
                 ) -> Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]:
    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        async with in_process_client(build_app(media_settings(**overrides))) as client:
            yield client

    return factory


async def upload(client: httpx.AsyncClient, data: bytes, filename: str = "photo.png",
                 content_type: str = "application/octet-stream",
                 headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.post("/v1/media", files={"file": (filename, data, content_type)},
                             headers=headers or USER)


async def raw_upload(client: httpx.AsyncClient, data: bytes, filename: str,
                     headers: dict[str, str] | None = None) -> httpx.Response:
    """A multipart body written by hand: the filename goes out byte for byte (httpx would
    percent-encode control characters, as browsers do)."""
    boundary = b"rawBOUNDARY42"
    body = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="'
            + filename.encode() + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
            + data + b"\r\n--" + boundary + b"--\r\n")
    return await client.post("/v1/media", content=body, headers={
        **(headers or USER), "Content-Type": "multipart/form-data; boundary=rawBOUNDARY42"})


async def chunked_upload(client: httpx.AsyncClient, data: bytes, filename: str,
                         headers: dict[str, str] | None = None) -> httpx.Response:
    """A multipart upload sent without Content-Length (chunked), 64 KiB at a time: limits
    must be found while the body streams."""
    boundary = b"chunkedBOUNDARY7"

    async def body() -> AsyncIterator[bytes]:
        yield (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; '
               b'filename="' + filename.encode() + b'"\r\n\r\n')
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]
        yield b"\r\n--" + boundary + b"--\r\n"

    return await client.post("/v1/media", content=body(), headers={
        **(headers or USER), "Content-Type": "multipart/form-data; boundary=chunkedBOUNDARY7"})


async def orphan_sweep_removes_only_orphans(settings: Settings, db_url: str,
                                            client: httpx.AsyncClient) -> dict[str, list[str]]:
    """Upload one file through `client`; then put an orphan (a media id no row names), and a
    file that is not postplan's, into the same store; sweep as of now (the orphan is too young)
    and as of two days later. Returns the keys each sweep removed and the keys left."""
    import time

    from postplan.core.db import create_engine
    from postplan.media.processing import Processor
    from postplan.media.resources import build_resources

    kept = (await upload(client, png_bytes(), "kept.png")).json()["id"]
    res = build_resources(settings)
    orphan = f"{uuid.uuid4()}/original"
    for key in (orphan, "notes/readme.txt"):
        writer = res.store.writer(key)
        await writer.write(b"left behind")
        await writer.commit()
    engine = create_engine(db_url)
    try:
        processor = Processor(engine, res)
        young = await processor.sweep_orphans()
        old = await processor.sweep_orphans(now=time.time() + 2 * 86400)
    finally:
        await engine.dispose()
    left = sorted([key async for key, _ in res.store.list_keys()])
    await res.store.aclose()
    return {"young": young, "old": old, "left": left, "orphan": [orphan], "kept": [kept]}
