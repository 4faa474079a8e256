"""derive: the copies, made for real (Pillow, ffmpeg) and read back."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from postplan.media.inspection import Derived, InspectionError, evaluate, probe
from postplan.media.inspection import derive as make_copies
from tests.fixtures.media_files import MediaFiles


async def copies(media_files: MediaFiles, name: str, out: Path) -> dict[str, Derived]:
    src = media_files.get(name)
    made = await make_copies(await probe(src), src, out)
    assert len({d.role for d in made}) == len(made)
    check_written(made, out)
    return {d.role: d for d in made}


def check_written(made: list[Derived], out: Path) -> None:
    for d in made:
        assert d.path.parent == out and d.path.stat().st_size > 0
    assert not list(out.glob("*.part*"))  # no half-written file stays behind


def read(d: Derived) -> tuple[str | None, tuple[int, int], str]:
    with Image.open(d.path) as image:
        return image.format, image.size, image.mode


async def test_a_png_gets_an_instagram_jpeg_and_a_thumbnail(media_files: MediaFiles,
                                                            tmp_path: Path) -> None:
    made = await copies(media_files, "logo.png", tmp_path)
    assert set(made) == {"thumbnail", "instagram-jpeg", "tiktok-photo"}
    assert read(made["instagram-jpeg"]) == ("JPEG", (600, 600), "RGB")
    assert made["instagram-jpeg"].content_type == "image/jpeg"
    assert read(made["thumbnail"]) == ("JPEG", (480, 480), "RGB")
    # The copy passes where the original needed it.
    copy = await probe(made["instagram-jpeg"].path)
    assert evaluate(copy)["instagram:image"].derived is None


async def test_exif_orientation_is_applied(media_files: MediaFiles, tmp_path: Path) -> None:
    made = await copies(media_files, "rotated6.jpg", tmp_path)
    assert read(made["instagram-jpeg"])[1] == (300, 400)  # upright, as the camera meant
    assert (made["instagram-jpeg"].width, made["instagram-jpeg"].height) == (300, 400)
    copy = await probe(made["instagram-jpeg"].path)
    assert copy.exif_orientation is None and (copy.width, copy.height) == (300, 400)
    assert read(made["thumbnail"])[1] == (300, 400)


async def test_an_over_size_photo_is_scaled_for_tiktok(media_files: MediaFiles,
                                                       tmp_path: Path) -> None:
    made = await copies(media_files, "big.jpg", tmp_path)
    assert set(made) == {"thumbnail", "tiktok-photo"}  # a 3000 px JPEG is fine for Instagram
    assert read(made["tiktok-photo"])[:2] == ("JPEG", (1620, 1080))
    assert evaluate(await probe(made["tiktok-photo"].path))["tiktok:photo"].derived is None


@pytest.mark.parametrize("name", ["photo.heic", "cmyk.jpg", "photo.webp"])
async def test_other_images_become_rgb_jpegs(media_files: MediaFiles, tmp_path: Path,
                                             name: str) -> None:
    made = await copies(media_files, name, tmp_path)
    assert read(made["instagram-jpeg"])[0::2] == ("JPEG", "RGB")


@pytest.mark.parametrize(("name", "container", "frames"), [
    ("multi.mpo", "mpo", 1), ("animated.gif", "gif", 2),
])
async def test_extended_jpeg_and_gif_get_jpeg_copies(media_files: MediaFiles, tmp_path: Path,
                                                    name: str, container: str,
                                                    frames: int) -> None:
    info = await probe(media_files.get(name))
    assert (info.content_type, info.container, info.frames) == (
        "image/jpeg" if container == "mpo" else "image/gif", container, frames)
    made = await copies(media_files, name, tmp_path)
    assert {"instagram-jpeg", "tiktok-photo"} <= set(made)
    copy = await probe(made["instagram-jpeg"].path)
    assert (copy.container, copy.frames, copy.color_mode) == ("jpeg", 1, "RGB")


async def test_a_jpeg_that_needs_nothing_gets_only_a_thumbnail(media_files: MediaFiles,
                                                               tmp_path: Path) -> None:
    assert set(await copies(media_files, "photo.jpg", tmp_path)) == {"thumbnail"}


async def test_a_video_gets_a_thumbnail_and_a_cover(media_files: MediaFiles,
                                                    tmp_path: Path) -> None:
    made = await copies(media_files, "good.mp4", tmp_path)
    assert set(made) == {"thumbnail", "cover"}
    assert read(made["thumbnail"]) == ("JPEG", (270, 480), "RGB")
    assert read(made["cover"]) == ("JPEG", (360, 640), "RGB")  # never enlarged


async def test_a_rotated_video_gives_upright_frames(media_files: MediaFiles,
                                                   tmp_path: Path) -> None:
    made = await copies(media_files, "rotated.mp4", tmp_path)
    assert read(made["cover"])[1] == (240, 320)


async def test_index_at_the_end_gets_a_faststart_copy(media_files: MediaFiles,
                                                      tmp_path: Path) -> None:
    made = await copies(media_files, "index-last.mp4", tmp_path)
    assert set(made) == {"thumbnail", "cover", "faststart"}
    remuxed = await probe(made["faststart"].path)
    assert remuxed.faststart is True
    assert (remuxed.video_codec, remuxed.audio_codec, remuxed.width, remuxed.height) == (
        "h264", "aac", 360, 640)
    assert evaluate(remuxed)["instagram:reel"].derived is None
    # A video that fails Instagram anyway gets no remux.
    assert "faststart" not in await copies(media_files, "small.mp4", tmp_path / "small")


async def test_a_file_that_went_bad_after_probing_fails_cleanly(media_files: MediaFiles,
                                                               tmp_path: Path) -> None:
    src = tmp_path / "clip.mp4"
    src.write_bytes(media_files.get("small.mp4").read_bytes())
    info = await probe(src)
    src.write_bytes(b"\x00" * 100)  # replaced between probe and derive
    out = tmp_path / "out"
    with pytest.raises(InspectionError) as caught:
        await make_copies(info, src, out)
    assert caught.value.code == "media_corrupt"
    assert list(out.iterdir()) == []
