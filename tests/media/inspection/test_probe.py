"""probe: real files made by ffmpeg and Pillow in the test, and files that are not media."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from postplan.media.inspection import InspectionError, probe
from postplan.media.inspection.tools import run_tool
from tests.fixtures.media_files import MediaFiles


async def test_h264_aac_mp4(media_files: MediaFiles) -> None:
    p = await probe(media_files.get("good.mp4"))
    assert (p.kind, p.content_type, p.container) == ("video", "video/mp4", "mp4")
    assert (p.width, p.height, p.rotation) == (360, 640, 0)
    assert p.duration_seconds == pytest.approx(3, abs=0.1)
    assert p.frame_rate == 30
    assert (p.video_codec, p.audio_codec, p.has_audio) == ("h264", "aac", True)
    assert p.audio_sample_rate == 44100 and p.audio_channels == 1
    assert p.pixel_format == "yuv420p" and p.field_order == "progressive"
    assert p.faststart is True
    assert p.bytes == media_files.get("good.mp4").stat().st_size
    assert p.bit_rate and p.bit_rate > 0


async def test_index_at_the_end_is_seen(media_files: MediaFiles) -> None:
    assert (await probe(media_files.get("small.mp4"))).faststart is False


async def test_vp9_webm_and_silent_mov(media_files: MediaFiles) -> None:
    webm = await probe(media_files.get("vp9.webm"))
    assert (webm.container, webm.video_codec, webm.audio_codec) == ("webm", "vp9", "opus")
    assert webm.faststart is None
    mov = await probe(media_files.get("silent.mov"))
    assert (mov.container, mov.content_type, mov.has_audio, mov.audio_codec) == (
        "mov", "video/quicktime", False, None)


async def test_rotation_swaps_the_displayed_size(media_files: MediaFiles) -> None:
    p = await probe(media_files.get("rotated.mp4"))
    assert p.rotation in (90, 270)
    assert (p.width, p.height) == (240, 320)


async def test_five_fps_clip(media_files: MediaFiles) -> None:
    assert (await probe(media_files.get("5fps.mp4"))).frame_rate == 5


async def test_an_mp4_named_jpg_is_a_video(media_files: MediaFiles) -> None:
    p = await probe(media_files.get("video-named.jpg"))
    assert (p.kind, p.content_type) == ("video", "video/mp4")


@pytest.mark.parametrize(("name", "container", "size", "orientation", "mode"), [
    ("photo.jpg", "jpeg", (1080, 1350), None, "RGB"),
    ("logo.png", "png", (600, 600), None, "RGBA"),
    ("photo.webp", "webp", (800, 800), None, "RGB"),
    ("cmyk.jpg", "jpeg", (500, 500), None, "CMYK"),
    ("rotated6.jpg", "jpeg", (300, 400), 6, "RGB"),  # stored 400×300, shown upright
    ("photo.heic", "heif", (640, 480), None, "RGB"),
])
async def test_images(media_files: MediaFiles, name: str, container: str,
                      size: tuple[int, int], orientation: int | None, mode: str) -> None:
    p = await probe(media_files.get(name))
    assert p.kind == "image"
    assert (p.container, (p.width, p.height), p.exif_orientation, p.color_mode) == (
        container, size, orientation, mode)
    assert p.duration_seconds is None and p.frames == 1


@pytest.mark.parametrize(("name", "code"), [
    ("truncated.mp4", "media_corrupt"),
    ("truncated-faststart.mp4", "media_corrupt"),
    ("truncated.webm", "media_corrupt"),
    ("truncated.jpg", "media_corrupt"),
    ("truncated.png", "media_corrupt"),
    ("random.bin", "unsupported_media"),
    ("empty.bin", "unsupported_media"),
])
async def test_bad_files_are_rejected_with_a_reason(media_files: MediaFiles, name: str,
                                                    code: str) -> None:
    with pytest.raises(InspectionError) as caught:
        await probe(media_files.get(name))
    assert caught.value.code == code
    assert caught.value.message
    assert str(media_files.root) not in caught.value.message  # no server paths echoed


async def test_a_video_header_on_garbage_is_corrupt(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    body = b"isom\x00\x00\x02\x00isomiso2"
    fake.write_bytes((8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\x00" * 5000)
    with pytest.raises(InspectionError) as caught:
        await probe(fake)
    assert caught.value.code == "media_corrupt"


async def test_missing_ffprobe_is_a_clear_error(media_files: MediaFiles,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = media_files.get("small.mp4")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(InspectionError) as caught:
        await probe(path)
    assert caught.value.code == "inspection_unavailable"
    assert "ffprobe" in caught.value.message


async def test_a_tool_over_its_time_is_killed() -> None:
    started = time.monotonic()
    with pytest.raises(InspectionError) as caught:
        await run_tool("sleep", "30", seconds=0.2)
    assert caught.value.code == "inspection_timeout"
    assert time.monotonic() - started < 5
    # The killed child was reaped: no process is left for the loop to warn about.
    await asyncio.sleep(0)
