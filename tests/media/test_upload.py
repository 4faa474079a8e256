"""POST /v1/media: streamed upload, sniffing, limits, bad input (nothing left behind), and the
processing job turning the row `ready` or `rejected`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.media.conftest import (
    BOTH_BACKENDS,
    USER,
    chunked_upload,
    jpeg_bytes,
    mp4_bytes,
    png_bytes,
    raw_upload,
    stored_files,
    upload,
    wait_status,
)


@BOTH_BACKENDS
async def test_image_upload_is_inspected_and_gets_its_copies(
        backend: str, media_client: Callable[..., Any], media_dir: Path) -> None:
    async with media_client() as client:
        res = await upload(client, png_bytes((1200, 1500)), "shot.png")
        assert res.status_code == 201, res.text
        body = res.json()
        assert body["status"] == "processing"
        assert body["kind"] == "image" and body["contentType"] == "image/png"
        assert body["bytes"] == len(png_bytes((1200, 1500)))
        assert len(body["sha256"]) == 64 and body["filename"] == "shot.png"
        done = await wait_status(client, body["id"])
        assert done["status"] == "ready", done
        assert (done["width"], done["height"]) == (1200, 1500)
        # Instagram takes JPEG only: a derived copy is made and named in the check.
        ig = done["checks"]["instagram:image"]
        assert ig["ok"] is True and ig["derived"]
        assert ig["derived"] in done["derived"]
        assert done["thumbnailUrl"]
        listing = (await client.get("/v1/media", headers=USER)).json()
        assert [m["id"] for m in listing["items"]] == [body["id"]]
    # The original and each derived copy are stored under the media's folder.
    names = {p.name for p in stored_files(media_dir)}
    assert "original" in names and len(names) >= 3


async def test_video_upload_is_probed(media_client: Callable[..., Any]) -> None:
    async with media_client() as client:
        res = await upload(client, mp4_bytes(), "clip.mp4")
        assert res.status_code == 201, res.text
        done = await wait_status(client, res.json()["id"])
        assert done["status"] == "ready", done
        assert done["kind"] == "video" and done["videoCodec"] == "h264"
        assert done["audioCodec"] == "aac" and 0.9 < done["durationSeconds"] < 1.2
        assert "tiktok:video" in done["checks"]


async def test_truncated_video_is_rejected_with_a_reason(
        media_client: Callable[..., Any]) -> None:
    clip = mp4_bytes()
    async with media_client() as client:
        res = await upload(client, clip[: len(clip) // 2], "cut.mp4")
        assert res.status_code == 201, res.text
        done = await wait_status(client, res.json()["id"])
        assert done["status"] == "rejected"
        assert done["error"]["code"] == "media_corrupt"
        assert done["error"]["message"]


BAD_UPLOADS = [
    # (what, bytes, filename, status, code)
    ("not media", b"hello, this is text, not a picture" * 200, "notes.png", 415,
     "unsupported_media"),
    ("wrong extension", png_bytes(), "photo.jpg", 415, "media_type_mismatch"),
    ("zero bytes", b"", "empty.png", 422, "media_empty"),
    ("path separator", png_bytes(), "../../etc/passwd.png", 422, "media_filename_invalid"),
    ("backslash", png_bytes(), "a\\b.png", 422, "media_filename_invalid"),
    ("control character", png_bytes(), "bad\x07name.png", 422, "media_filename_invalid"),
    ("newline", png_bytes(), "two\nlines.png", 422, "media_filename_invalid"),
]


async def test_bad_uploads_are_clear_problems_and_leave_nothing(
        media_client: Callable[..., Any], media_dir: Path) -> None:
    async with media_client() as client:
        for what, data, filename, status, code in BAD_UPLOADS:
            res = await raw_upload(client, data, filename)
            assert res.status_code == status, (what, res.text)
            assert res.headers["content-type"].startswith("application/problem+json"), what
            assert res.json()["code"] == code, what
        assert (await client.get("/v1/media", headers=USER)).json()["items"] == []
    assert stored_files(media_dir) == []


@BOTH_BACKENDS
async def test_over_the_limit_is_413_while_streaming(
        backend: str, media_client: Callable[..., Any], media_dir: Path) -> None:
    big = png_bytes((1000, 1000), "white") + b"\0" * 300_000
    async with media_client(MEDIA_MAX_BYTES=200_000) as client:
        res = await upload(client, big, "big.png")
        assert res.status_code == 413
        assert res.json()["code"] == "media_too_large"
        # A chunked body (no Content-Length) is stopped while streaming, too.
        res = await chunked_upload(client, big, "big.png")
        assert res.status_code == 413, res.text
        assert res.json()["code"] == "media_too_large"
    assert stored_files(media_dir) == []


async def test_quota_is_per_user(media_client: Callable[..., Any]) -> None:
    image = jpeg_bytes()
    async with media_client(MEDIA_QUOTA_BYTES=len(image) * 2 + 10) as client:
        for _ in range(2):
            assert (await upload(client, image, "a.jpg")).status_code == 201
        res = await upload(client, image, "a.jpg")
        assert res.status_code == 413
        assert res.json()["code"] == "media_quota_exceeded"
        # Another user has a quota of their own.
        other = await upload(client, image, "a.jpg", headers={"X-User-Id": "other"})
        assert other.status_code == 201


async def test_malformed_requests(media_client: Callable[..., Any], media_dir: Path) -> None:
    async with media_client() as client:
        res = await client.post("/v1/media", files={"other": ("a.png", png_bytes())},
                                headers=USER)
        assert res.status_code == 422 and res.json()["code"] == "media_upload_invalid"
        res = await client.post("/v1/media", json={"file": "x"}, headers=USER)
        assert res.status_code == 415
        res = await client.post("/v1/media", content=b"--b\r\nContent-Disposition: form-data; "
                                b'name="file"; filename="a.png"\r\n\r\n' + png_bytes(),
                                headers={**USER,
                                         "Content-Type": "multipart/form-data; boundary=b"})
        assert res.status_code == 422 and res.json()["code"] == "media_upload_invalid"
    assert stored_files(media_dir) == []
