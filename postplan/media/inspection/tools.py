"""Running ffprobe/ffmpeg: found on PATH, bounded by a timeout, killed when it runs over."""

from __future__ import annotations

import asyncio
import contextlib
import shutil

from postplan.media.inspection.types import InspectionError

__all__ = ["run_tool"]


def _which(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise InspectionError(
            "inspection_unavailable",
            f"{tool} is not installed (Debian: apt-get install ffmpeg); videos cannot be "
            "inspected")
    return path


async def run_tool(tool: str, *args: str, seconds: float) -> tuple[int, bytes, bytes]:
    """Run `tool args...` without a shell; (exit code, stdout, stderr). Over `seconds`
    the process is killed and `inspection_timeout` raised, so a hostile file cannot hold a
    worker."""
    proc = await asyncio.create_subprocess_exec(
        _which(tool), *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), seconds)
    except (TimeoutError, asyncio.CancelledError) as exc:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise InspectionError("inspection_timeout",
                              f"{tool} took longer than {seconds:g} s") from None
    return proc.returncode or 0, out, err
