"""`probe(path)`: what a stored file is. Videos through ffprobe, images through Pillow.

A file that cannot be read raises `InspectionError` with a stable code; nothing here lets a
damaged upload crash the worker that inspects it.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from pathlib import Path
from typing import Any

from postplan.media.inspection.images import probe_image
from postplan.media.inspection.isobmff import box_layout
from postplan.media.inspection.sniff import HEAD_BYTES, SniffResult, sniff
from postplan.media.inspection.tools import run_tool
from postplan.media.inspection.types import InspectionError, Probe

__all__ = ["probe"]

_CONTAINERS = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm",
               "video/x-matroska": "matroska", "video/x-msvideo": "avi", "video/3gpp": "3gp"}
_ISO = frozenset({"mp4", "mov", "3gp"})
#: What ffmpeg's demuxers say about a file cut short or damaged near the end (other messages
#: at error level, a decoder's complaint about one frame say, are not a reason to reject).
_TRUNCATED = re.compile(r"ended prematurely|partial file|truncat|invalid data|"
                        r"end of file|EBML header parsing failed", re.IGNORECASE)


async def probe(path: Path, *, timeout: float = 30) -> Probe:  # noqa: ASYNC109 (the API)
    """Inspect the file at `path`. Raises `InspectionError`: `unsupported_media` (not an image
    or video), `media_corrupt` (truncated or damaged, with the reason), `inspection_timeout`,
    `inspection_unavailable` (no ffprobe)."""
    head, size = await asyncio.to_thread(_start, path)
    if not head:
        raise InspectionError("unsupported_media", "the file is empty")
    sniffed = sniff(head)
    if sniffed is None:
        raise InspectionError("unsupported_media", "the bytes are not an image or a video "
                              "postplan can read")
    if sniffed.kind == "image":
        try:
            return await asyncio.wait_for(asyncio.to_thread(probe_image, path, sniffed), timeout)
        except TimeoutError:
            raise InspectionError("inspection_timeout",
                                  f"reading the image took longer than {timeout:g} s") from None
    return await _probe_video(path, sniffed, size, timeout)


def _start(path: Path) -> tuple[bytes, int]:
    with path.open("rb") as fh:
        return fh.read(HEAD_BYTES), path.stat().st_size


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _rate(value: Any) -> float | None:
    """ffprobe's `30000/1001` as 29.97; `0/0` (unknown) as None."""
    if not isinstance(value, str) or "/" not in value:
        return _number(value)
    num, _, den = value.partition("/")
    n, d = _number(num), _number(den)
    if not n or not d:
        return None
    return round(n / d, 3)


def _int(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _rotation(stream: dict[str, Any]) -> int:
    """Clockwise quarter turns, from the `rotate` tag or the display matrix."""
    tag = _number((stream.get("tags") or {}).get("rotate"))
    if tag is not None:
        return int(tag) % 360
    for side in stream.get("side_data_list") or []:
        value = _number(side.get("rotation"))
        if value is not None:
            # The display matrix's angle is counter-clockwise; players turn clockwise.
            return int(-value) % 360
    return 0


def _corrupt(sniffed: SniffResult, stderr: bytes) -> InspectionError:
    lines = [ln for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    # ffprobe's last line names the cause ("moov atom not found", "Invalid data found ...");
    # the file's path, which it also prints, is not repeated back.
    reason = lines[-1].split(": ", 1)[-1].strip() if lines else "ffprobe cannot read it"
    return InspectionError("media_corrupt", f"the {sniffed.extension.upper()} video cannot be "
                           f"read ({reason[:200]})")


async def _probe_video(path: Path, sniffed: SniffResult, size: int, seconds: float) -> Probe:
    container = _CONTAINERS.get(sniffed.content_type, sniffed.extension)
    layout = await asyncio.to_thread(box_layout, path) if container in _ISO else None
    if layout is not None and layout.truncated:
        raise InspectionError("media_corrupt", "the video is truncated (it ends inside a "
                              "box; the upload was cut off)")
    code, out, err = await run_tool(
        "ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
        "--", str(path), seconds=seconds)
    if code != 0:
        raise _corrupt(sniffed, err)
    try:
        data = json.loads(out)
    except ValueError:
        raise InspectionError("media_corrupt", "ffprobe's report is unreadable") from None
    data = data if isinstance(data, dict) else {}
    streams = [s for s in data.get("streams") or [] if isinstance(s, dict)]
    fmt: dict[str, Any] = data["format"] if isinstance(data.get("format"), dict) else {}
    # A cover picture attached to an audio file is a "video" stream too; skip those.
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not (s.get("disposition") or {}).get("attached_pic")), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None:
        raise InspectionError("unsupported_media", "the file has no video stream")
    width, height = _int(video.get("width")) or 0, _int(video.get("height")) or 0
    if width <= 0 or height <= 0:
        raise InspectionError("media_corrupt", "the video stream has no frame size")
    if layout is None and not await _tail_reads(path, fmt, seconds):
        raise InspectionError("media_corrupt", "the video is truncated or damaged near its end")
    rotation = _rotation(video)
    if rotation in (90, 270):
        width, height = height, width
    duration = _number(fmt.get("duration")) or _number(video.get("duration"))
    return Probe(
        kind="video",
        content_type=sniffed.content_type,
        container=container,
        bytes=size,
        width=width,
        height=height,
        duration_seconds=round(duration, 3) if duration is not None else None,
        frame_rate=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")),
        video_codec=video.get("codec_name"),
        audio_codec=audio.get("codec_name") if audio else None,
        has_audio=audio is not None,
        audio_sample_rate=_int(audio.get("sample_rate")) if audio else None,
        audio_channels=_int(audio.get("channels")) if audio else None,
        audio_bit_rate=_int(audio.get("bit_rate")) if audio else None,
        bit_rate=_int(fmt.get("bit_rate")),
        video_bit_rate=_int(video.get("bit_rate")),
        rotation=rotation,
        pixel_format=video.get("pix_fmt"),
        field_order=video.get("field_order"),
        faststart=layout.faststart if layout is not None else None,
    )


async def _tail_reads(path: Path, fmt: dict[str, Any], seconds: float) -> bool:
    """WebM/MKV/AVI have no box sizes to check: read the last second's packets and see
    whether the demuxer complains (a cut-off file ends mid-cluster)."""
    duration = _number(fmt.get("duration"))
    start = max(0.0, duration - 1.0) if duration else 0.0
    code, _, err = await run_tool(
        "ffprobe", "-v", "error", "-read_intervals", f"{start:.3f}%",
        "-show_entries", "packet=pos", "-of", "csv=p=0", "--", str(path), seconds=seconds)
    return code == 0 and not _TRUNCATED.search(err.decode("utf-8", "replace"))
