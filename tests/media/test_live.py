"""Through real uvicorn on loopback: an upload streams in and is served back with Range, and a
client that goes away halfway through its upload leaves nothing behind."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from postplan.config import Settings
from tests.fixtures.apps import build_app, live_server
from tests.media.conftest import USER, png_bytes, stored_files

pytestmark = pytest.mark.live


async def test_upload_serve_and_an_interrupted_upload(
        media_settings: Callable[..., Settings], media_dir: Path) -> None:
    data = png_bytes((640, 480)) + b"\0" * (3 << 20)
    with live_server(build_app(media_settings())) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            res = await client.post("/v1/media", headers=USER,
                                    files={"file": ("big.png", data, "image/png")})
            assert res.status_code == 201, res.text
            media: dict[str, Any] = res.json()
            url = f"/v1/media/{media['id']}/content"
            part = await client.get(url, headers={**USER, "Range": "bytes=1000-2999"})
            assert part.status_code == 206 and part.content == data[1000:3000]
            whole = await client.get(url, headers=USER)
            assert whole.content == data

            # Half a body, then the connection closes.
            boundary = b"cutBOUNDARY"
            head = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; '
                    b'filename="cut.png"\r\n\r\n')
            length = len(head) + len(data) + 100
            port = int(server.url.rsplit(":", 1)[1])
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(b"POST /v1/media HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"X-User-Id: media-user\r\nContent-Type: multipart/form-data; "
                             b"boundary=cutBOUNDARY\r\nContent-Length: "
                             + str(length).encode() + b"\r\n\r\n" + head
                             + data[: len(data) // 2])
                await asyncio.sleep(0.3)
            def left() -> list[Path]:
                # Partial files, and originals other than the first upload's.
                return [p for p in stored_files(media_dir)
                        if p.parent.name == ".partial"
                        or (p.name == "original" and p.parent.name != media["id"])]

            for _ in range(100):
                if not left():
                    break
                await asyncio.sleep(0.05)
            assert left() == []
            listing = (await client.get("/v1/media", headers=USER)).json()
            assert [m["id"] for m in listing["items"]] == [media["id"]]
