"""Resumable uploads (tus 1.0.0 core + creation, termination, expiration) at
/v1/media/uploads/, finishing into the same media row as a plain upload."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.media.conftest import USER, png_bytes, stored_files, wait_status

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {"Content-Type": "application/offset+octet-stream"}


def _meta(name: str) -> str:
    return "filename " + base64.b64encode(name.encode()).decode()


async def test_resumable_upload_in_pieces(media_client: Callable[..., Any],
                                          media_dir: Path) -> None:
    data = png_bytes((500, 400)) + b"\0" * 200_000
    async with media_client() as client:
        options = await client.options("/v1/media/uploads", headers=USER)
        assert "creation" in options.headers["tus-extension"]
        made = await client.post("/v1/media/uploads", headers={
            **USER, **TUS, "Upload-Length": str(len(data)), "Upload-Metadata": _meta("r.png")})
        assert made.status_code == 201, made.text
        where = made.headers["location"]
        assert made.headers["upload-expires"]
        first = await client.patch(where, content=data[:100_000], headers={
            **USER, **TUS, **OCTETS, "Upload-Offset": "0"})
        assert first.status_code == 204 and first.headers["upload-offset"] == "100000"
        # A dropped connection: the client asks where to resume (HEAD), sends from there.
        head = await client.head(where, headers={**USER, **TUS})
        assert head.status_code == 200 and head.headers["upload-offset"] == "100000"
        assert head.headers["upload-length"] == str(len(data))
        stale = await client.patch(where, content=data[:10], headers={
            **USER, **TUS, **OCTETS, "Upload-Offset": "0"})
        assert stale.status_code == 409 and stale.json()["code"] == "upload_offset_mismatch"
        assert (await client.patch(where, content=b"x", headers={
            **USER, **TUS, "Content-Type": "application/json", "Upload-Offset": "100000",
        })).status_code == 415
        assert (await client.head(where, headers={"X-User-Id": "other"})).status_code == 404
        last = await client.patch(where, content=data[100_000:], headers={
            **USER, **TUS, **OCTETS, "Upload-Offset": "100000"})
        assert last.status_code == 204, last.text
        media_id = last.headers["upload-media-id"]
        done = await wait_status(client, media_id)
        assert done["status"] == "ready" and done["bytes"] == len(data)
        assert done["filename"] == "r.png"
        content = await client.get(f"/v1/media/{media_id}/content", headers=USER)
        assert content.content == data
        state = (await client.get(where, headers=USER)).json()
        assert state["mediaId"] == media_id and state["offset"] == len(data)
    # Only the stored media remains: no upload file is left in .uploads.
    assert not any(p.parent.name == ".uploads" for p in stored_files(media_dir))


async def test_limits_termination_and_bad_files(media_client: Callable[..., Any],
                                                media_dir: Path) -> None:
    async with media_client(MEDIA_MAX_BYTES=50_000) as client:
        over = await client.post("/v1/media/uploads", headers={
            **USER, **TUS, "Upload-Length": "60000", "Upload-Metadata": _meta("a.png")})
        assert over.status_code == 413 and over.json()["code"] == "media_too_large"
        bad_name = await client.post("/v1/media/uploads", headers={
            **USER, **TUS, "Upload-Length": "10", "Upload-Metadata": _meta("x/y.png")})
        assert bad_name.status_code == 422
        made = await client.post("/v1/media/uploads", headers={
            **USER, **TUS, "Upload-Length": "100", "Upload-Metadata": _meta("a.png")})
        where = made.headers["location"]
        assert (await client.patch(where, content=b"\0" * 50, headers={
            **USER, **TUS, **OCTETS, "Upload-Offset": "0"})).status_code == 204
        assert (await client.delete(where, headers={**USER, **TUS})).status_code == 204
        assert (await client.head(where, headers=USER)).status_code == 404
        # Not media: the last byte answers 415 and the upload is gone.
        text = b"just some text, no image here " * 5
        made = await client.post("/v1/media/uploads", headers={
            **USER, **TUS, "Upload-Length": str(len(text)), "Upload-Metadata": _meta("t.png")})
        where = made.headers["location"]
        res = await client.patch(where, content=text, headers={
            **USER, **TUS, **OCTETS, "Upload-Offset": "0"})
        assert res.status_code == 415 and res.json()["code"] == "unsupported_media"
        assert (await client.head(where, headers=USER)).status_code == 404
        assert (await client.get("/v1/media", headers=USER)).json()["items"] == []
    assert stored_files(media_dir) == []
