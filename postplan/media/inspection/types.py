"""The values inspection hands out: a probe, a check result, a derived copy, and its error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CheckResult", "Derived", "Finding", "InspectionError", "MediaKind", "Probe"]

MediaKind = Literal["image", "video"]


class InspectionError(Exception):
    """The file cannot be inspected. `code` is stable: `media_corrupt` (truncated, damaged,
    or not what its first bytes claim), `unsupported_media` (not an image or video postplan
    reads), `inspection_unavailable` (ffprobe/ffmpeg missing), `inspection_timeout`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Probe(BaseModel):
    """What a file is. `width`/`height` are as displayed (after rotation or EXIF orientation)."""

    model_config = ConfigDict(frozen=True)

    kind: MediaKind
    content_type: str
    #: Container or image format, lower case: mp4, mov, webm, matroska, avi, jpeg, mpo, png,
    #: webp, heif, gif.
    container: str
    bytes: int
    width: int
    height: int
    duration_seconds: float | None = None
    frame_rate: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    has_audio: bool = False
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    audio_bit_rate: int | None = None
    #: Whole-file bits per second (video); `video_bit_rate` the video stream's when known.
    bit_rate: int | None = None
    video_bit_rate: int | None = None
    #: Degrees a player turns the stored frames (0, 90, 180, 270); what counts is whether
    #: it is a quarter turn, which swaps the displayed width and height.
    rotation: int = 0
    pixel_format: str | None = None
    #: `progressive`, `tt`, `bb`, `tb`, `bt` (ffprobe's field order) or None when unknown.
    field_order: str | None = None
    #: MP4/MOV: the index (moov) comes before the data, so a player can start while fetching.
    faststart: bool | None = None
    #: Images: EXIF orientation 1–8 (1 = as stored), Pillow mode (RGB, RGBA, L, CMYK, P...),
    #: whether an ICC profile other than sRGB's is embedded, and the frame count (GIF, WebP).
    exif_orientation: int | None = None
    color_mode: str | None = None
    icc_profile: bool = False
    frames: int = 1


class Finding(BaseModel):
    """One reason (`code`, person-readable `message`)."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str


class CheckResult(BaseModel):
    """One channel and format's verdict. `ok` is `not findings`: the findings block; `derived`
    names the copy postplan makes so that the platform accepts it (publish that copy, not the
    original); `notes` say what the platform will do itself or recommends (nothing blocks)."""

    ok: bool
    findings: list[Finding] = Field(default_factory=list)
    derived: str | None = None
    notes: list[Finding] = Field(default_factory=list)


@dataclass(frozen=True)
class Derived:
    """A copy made from the original: `role` is `thumbnail`, `cover`, `instagram-jpeg` or
    `tiktok-photo`."""

    role: str
    path: Path
    content_type: str
    width: int
    height: int
