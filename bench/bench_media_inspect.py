"""Media inspection: probe + evaluate of a 60 s 1080p H.264/AAC video (target < 1 s of server
time), against the bare cost of starting ffprobe (`ffprobe -version`) in the same run.

The clip is made once by ffmpeg and kept in artifacts/bench-media/ (git-ignored), so later runs
skip the encode. `--quick` uses a 10 s 720p clip.
"""

from __future__ import annotations

import asyncio
import resource
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.helpers import row
from postplan.media.inspection import evaluate, probe

CACHE = Path(__file__).resolve().parent.parent / "artifacts" / "bench-media"
ROUNDS = 7


def make_clip(seconds: int, size: str) -> Path:
    """A test-pattern H.264/AAC MP4 at 30 fps, made once (about 30 s of encoding for 60 s)."""
    dest = CACHE / f"clip-{seconds}s-{size}.mp4"
    if dest.exists():
        return dest
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("ffmpeg is not installed (apt-get install ffmpeg)")
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part.mp4")
    subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=duration={seconds}:size={size}:rate=30",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-b:v", "6M",
         "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", "-shortest", str(tmp)],
        check=True, timeout=600)
    tmp.replace(dest)
    return dest


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _inspect(path: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its ffprobe children) of one inspection."""
    cpu0, kids0 = time.process_time(), _children_cpu()
    started = time.perf_counter()
    info = await probe(path)
    checks = evaluate(info)
    wall = time.perf_counter() - started
    assert checks["tiktok:video"].ok, checks["tiktok:video"]
    return wall, time.process_time() - cpu0 + _children_cpu() - kids0


async def _spawn(ffprobe: str) -> float:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        ffprobe, "-version", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await proc.wait()
    return time.perf_counter() - started


async def _measure(path: Path) -> tuple[float, float, float]:
    ffprobe = shutil.which("ffprobe") or "ffprobe"
    await _inspect(path)  # warm the page cache and the imports
    walls, cpus, spawns = [], [], []
    for _ in range(ROUNDS):
        wall, cpu = await _inspect(path)
        walls.append(wall)
        cpus.append(cpu)
        spawns.append(await _spawn(ffprobe))
    return statistics.median(walls), statistics.median(cpus), statistics.median(spawns)


def run(quick: bool) -> list[dict[str, Any]]:
    seconds, size = (10, "1280x720") if quick else (60, "1920x1080")
    path = make_clip(seconds, size)
    wall, cpu, spawn = asyncio.run(_measure(path))
    label = f"{seconds}s_{size.split('x')[1]}p"
    return [
        row(f"media.inspect_{label}_ms", wall * 1000, "ms", baseline=spawn * 1000,
            target="< 1000 ms", ok=wall < 1.0),
        row(f"media.inspect_{label}_cpu_ms", cpu * 1000, "ms", target="< 1000 ms",
            ok=cpu < 1.0),
    ]


if __name__ == "__main__":
    for r in run(quick=False):
        print(r)
