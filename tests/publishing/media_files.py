"""Small real media files for the publish and page tests: an H.264/AAC clip made by ffmpeg and
images made by Pillow, each made once per test process."""

from __future__ import annotations

import functools
import io
import subprocess
import tempfile
from pathlib import Path

from PIL import Image


@functools.cache
def clip(width: int = 360, height: int = 640, seconds: float = 1.0) -> bytes:
    """An MP4 (H.264 + AAC, 30 fps) of the given shape and length: 360×640 for 1 s passes
    TikTok's video checks and is too short for an Instagram reel (3 s at least)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "clip.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
             f"testsrc=size={width}x{height}:rate=30:d={seconds}", "-f", "lavfi", "-i",
             f"sine=frequency=440:duration={seconds}", "-c:v", "libx264", "-preset",
             "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-movflags",
             "+faststart", str(out)], capture_output=True, check=True, timeout=60)
        return out.read_bytes()


@functools.cache
def image(fmt: str = "PNG", width: int = 400, height: int = 400) -> bytes:
    """An RGB image in `fmt` (a PNG becomes a derived JPEG for Instagram)."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(buf, fmt)
    return buf.getvalue()
