"""The platforms' published media limits, as numbers (docs/research.md, channels §1.10 for
TikTok and §2.11 for Instagram; every code and limit is listed in docs/media-checks.md).

Where a source gives "MB" without saying decimal or binary, the smaller (decimal) reading is
used, so a file that passes here passes there.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["INSTAGRAM", "TIKTOK", "InstagramLimits", "TikTokLimits"]

MB = 1_000_000
GB = 1_000_000_000


@dataclass(frozen=True)
class TikTokLimits:
    """Media transfer guide: video and photo restrictions (§1.10)."""

    video_containers: frozenset[str] = frozenset({"mp4", "webm", "mov"})
    video_codecs: frozenset[str] = frozenset({"h264", "hevc", "vp8", "vp9"})
    fps_min: float = 23.0
    fps_max: float = 60.0
    side_min: int = 360
    side_max: int = 4096
    video_bytes_max: int = 4 * GB
    #: Every creator may post 3 minutes; some 5 or 10; the API takes 10 at most.
    duration_everyone: int = 180
    duration_max: int = 600
    photo_formats: frozenset[str] = frozenset({"jpeg", "webp"})
    #: "At most 1080p": read as fitting 1080 × 1920 in either orientation.
    photo_short_side_max: int = 1080
    photo_long_side_max: int = 1920
    photo_bytes_max: int = 20 * MB
    photos_min: int = 1
    photos_max: int = 35


@dataclass(frozen=True)
class InstagramLimits:
    """Content Publishing media reference (§2.11)."""

    image_formats: frozenset[str] = frozenset({"jpeg"})  # JPEG only; MPO is not supported
    image_bytes_max: int = 8 * MB
    feed_aspect_min: float = 4 / 5
    feed_aspect_max: float = 1.91
    width_min: int = 320
    width_max: int = 1440  # outside 320–1440 Meta scales the image itself
    video_containers: frozenset[str] = frozenset({"mp4", "mov"})
    video_codecs: frozenset[str] = frozenset({"h264", "hevc"})
    audio_codecs: frozenset[str] = frozenset({"aac"})
    audio_sample_rate_max: int = 48_000
    audio_channels_max: int = 2
    audio_bit_rate_max: int = 128_000
    fps_min: float = 23.0
    fps_max: float = 60.0
    video_width_max: int = 1920
    video_bit_rate_max: int = 25_000_000
    reel_aspect_min: float = 0.01
    reel_aspect_max: float = 10.0
    reel_duration_min: float = 3.0
    reel_duration_max: float = 15 * 60.0
    reel_bytes_max: int = 300 * MB
    story_aspect_min: float = 0.1
    story_aspect_max: float = 10.0
    story_duration_min: float = 3.0
    story_duration_max: float = 60.0
    story_video_bytes_max: int = 100 * MB
    carousel_min: int = 2
    carousel_max: int = 10
    #: 9:16, the recommended shape of reels and stories.
    vertical_aspect: float = 9 / 16


TIKTOK = TikTokLimits()
INSTAGRAM = InstagramLimits()
