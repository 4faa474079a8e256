"""`derive(probe, src, out_dir)`: the copies a file needs, made locally (Pillow in a thread,
ffmpeg as a bounded subprocess). Nothing is fetched; nothing but `out_dir` is written.

Roles: `thumbnail` (every file: a JPEG of at most 480 px for the page; a frame for videos),
`cover` (videos: a full-size JPEG frame for a reel's `cover_url`), `instagram-jpeg` and
`tiktok-photo` (images, when `evaluate` names them) and `faststart` (MP4/MOV whose index is
at the end: the same streams remuxed, index first). EXIF orientation is applied in every
image copy, so no separate rotated copy is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from postplan.media.inspection.checks import evaluate, tiktok_photo_box
from postplan.media.inspection.images import save_jpeg
from postplan.media.inspection.limits import INSTAGRAM, TIKTOK
from postplan.media.inspection.tools import run_tool
from postplan.media.inspection.types import Derived, InspectionError, Probe

__all__ = ["THUMBNAIL_PX", "derive"]

THUMBNAIL_PX = 480
#: A reel cover: Meta centre-crops it to 9:16, so 1080×1920 is all the detail it keeps.
_COVER_BOX = (1080, 1920)
#: Taller than any real image: Instagram only bounds the width.
_UNBOUNDED = 100_000
_QUALITIES = (90, 80, 70)


async def derive(probe: Probe, src: Path, out_dir: Path, *,
                 timeout: float = 300) -> list[Derived]:  # noqa: ASYNC109 (the API)
    """Make the copies `probe` needs from `src` into `out_dir` (created if missing). Raises
    `InspectionError` (`media_corrupt`, `inspection_timeout`, `inspection_unavailable`);
    a failed copy leaves no partial file behind."""
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    roles = {r.derived for r in evaluate(probe).values() if r.derived}
    if probe.kind == "image":
        return await _image_copies(probe, src, out_dir, roles, timeout)
    made = [await _frame(probe, src, out_dir / "thumbnail.jpg", "thumbnail",
                         (THUMBNAIL_PX, THUMBNAIL_PX), timeout),
            await _frame(probe, src, out_dir / "cover.jpg", "cover", _COVER_BOX, timeout)]
    if "faststart" in roles:
        made.append(await _faststart(probe, src, out_dir, timeout))
    return made


async def _in_thread(fn: Callable[[], Derived], seconds: float) -> Derived:
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn), seconds)
    except TimeoutError:
        raise InspectionError("inspection_timeout",
                              f"making a copy took longer than {seconds:g} s") from None


def _jpeg(src: Path, dest: Path, role: str, box: tuple[int, int], max_bytes: int,
          qualities: tuple[int, ...] = _QUALITIES) -> Derived:
    tmp = dest.with_name(dest.name + ".part")
    try:
        for quality in qualities:
            width, height = save_jpeg(src, tmp, box=box, quality=quality)
            if tmp.stat().st_size <= max_bytes:
                break
        else:
            raise InspectionError("media_corrupt", f"the {role} copy stays over "
                                  f"{max_bytes // 1_000_000} MB")
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return Derived(role=role, path=dest, content_type="image/jpeg", width=width, height=height)


async def _image_copies(probe: Probe, src: Path, out_dir: Path, roles: set[str],
                        seconds: float) -> list[Derived]:
    jobs: list[Callable[[], Derived]] = [
        lambda: _jpeg(src, out_dir / "thumbnail.jpg", "thumbnail",
                      (THUMBNAIL_PX, THUMBNAIL_PX), INSTAGRAM.image_bytes_max, (80, 70)),
    ]
    if "instagram-jpeg" in roles:
        jobs.append(lambda: _jpeg(src, out_dir / "instagram.jpg", "instagram-jpeg",
                                  (INSTAGRAM.width_max, _UNBOUNDED), INSTAGRAM.image_bytes_max))
    if "tiktok-photo" in roles:
        jobs.append(lambda: _jpeg(src, out_dir / "tiktok.jpg", "tiktok-photo",
                                  tiktok_photo_box(probe), TIKTOK.photo_bytes_max))
    return [await _in_thread(job, seconds) for job in jobs]


def _frame_time(probe: Probe) -> float:
    """A tenth of the way in (the first frame is often black), at most one second."""
    return min(1.0, (probe.duration_seconds or 0.0) / 10)


async def _frame(probe: Probe, src: Path, dest: Path, role: str, box: tuple[int, int],
                 seconds: float) -> Derived:
    tmp = dest.with_name(dest.name + ".part.jpg")
    # ffmpeg turns rotated video upright itself; scale keeps the aspect and never enlarges.
    scale = (f"scale=w='min({box[0]},iw)':h='min({box[1]},ih)'"
             ":force_original_aspect_ratio=decrease")
    try:
        code, _, err = await run_tool(
            "ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", f"{_frame_time(probe):.3f}",
            "-i", str(src), "-frames:v", "1", "-vf", scale, "-q:v", "3", "-f", "image2",
            str(tmp), seconds=seconds)
        if code != 0 or not tmp.exists() or tmp.stat().st_size == 0:
            raise InspectionError("media_corrupt", "no frame could be taken from the video: "
                                  + err.decode("utf-8", "replace").strip()[-200:])
        with Image.open(tmp) as image:
            width, height = image.size
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return Derived(role=role, path=dest, content_type="image/jpeg", width=width, height=height)


async def _faststart(probe: Probe, src: Path, out_dir: Path, seconds: float) -> Derived:
    ext = "mov" if probe.container == "mov" else "mp4"
    dest = out_dir / f"faststart.{ext}"
    tmp = out_dir / f"faststart.part.{ext}"
    try:
        code, _, err = await run_tool(
            "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", "0",
            "-c", "copy", "-movflags", "+faststart", str(tmp), seconds=seconds)
        if code != 0:
            raise InspectionError("media_corrupt", "the video could not be remuxed: "
                                  + err.decode("utf-8", "replace").strip()[-200:])
        tmp.replace(dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return Derived(role="faststart", path=dest, content_type=probe.content_type,
                   width=probe.width, height=probe.height)
