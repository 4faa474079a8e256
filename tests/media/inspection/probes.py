"""Hand-built probes for the check tests: a video and an image every platform takes."""

from __future__ import annotations

from typing import Any

from postplan.media.inspection import CheckResult, Probe

__all__ = ["codes", "image", "notes", "video"]


def video(**changes: Any) -> Probe:
    """A video every platform takes: 1080×1920, 30 s, 30 fps, H.264 + AAC, index first."""
    base: dict[str, Any] = dict(
        kind="video", content_type="video/mp4", container="mp4", bytes=40_000_000,
        width=1080, height=1920, duration_seconds=30.0, frame_rate=30.0, video_codec="h264",
        audio_codec="aac", has_audio=True, audio_sample_rate=44100, audio_channels=2,
        audio_bit_rate=128_000, bit_rate=10_000_000, video_bit_rate=9_800_000,
        pixel_format="yuv420p", field_order="progressive", faststart=True)
    return Probe(**(base | changes))


def image(**changes: Any) -> Probe:
    """A JPEG every platform takes: 1080×1350 (4:5), 1 MB, RGB, upright."""
    base: dict[str, Any] = dict(kind="image", content_type="image/jpeg", container="jpeg",
                                bytes=1_000_000, width=1080, height=1350, color_mode="RGB")
    return Probe(**(base | changes))


def codes(result: CheckResult) -> list[str]:
    return [f.code for f in result.findings]


def notes(result: CheckResult) -> list[str]:
    return [n.code for n in result.notes]
