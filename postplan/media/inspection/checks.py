"""`evaluate(probe)`: per channel and format, will the platform take this file as it is, after
a copy postplan makes, or not at all. The numbers are in `limits` (and docs/media-checks.md).

Findings block; notes do not (the platform adjusts the file itself, or only recommends). A
check names a `derived` role when postplan's copy is what the platform gets.
"""

from __future__ import annotations

from postplan.media.inspection.limits import INSTAGRAM, TIKTOK
from postplan.media.inspection.types import CheckResult, Finding, Probe

__all__ = ["IMAGE_KEYS", "VIDEO_KEYS", "evaluate", "tiktok_photo_box"]

VIDEO_KEYS = ("tiktok:video", "instagram:reel", "instagram:story", "instagram:carousel")
#: `instagram:cover`: the image as a reel's `cover_url` (not a format of its own).
IMAGE_KEYS = ("tiktok:photo", "instagram:image", "instagram:story", "instagram:carousel",
              "instagram:cover")

_TIKTOK_ROLE = "tiktok-photo"
_INSTAGRAM_ROLE = "instagram-jpeg"
_FASTSTART_ROLE = "faststart"
_EPS = 0.01  # frame rates like 59.94 and 23.976 sit inside 23–60; don't fail 60.004


class _Check:
    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.notes: list[Finding] = []
        self.derived: str | None = None

    def fail(self, code: str, message: str) -> None:
        self.findings.append(Finding(code=code, message=message))

    def note(self, code: str, message: str) -> None:
        self.notes.append(Finding(code=code, message=message))

    def result(self) -> CheckResult:
        return CheckResult(ok=not self.findings, findings=self.findings,
                           derived=self.derived if not self.findings else None,
                           notes=self.notes)


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


def _aspect(p: Probe) -> float:
    return p.width / p.height if p.height else 0.0


def evaluate(probe: Probe, *, creator_max_video_seconds: int | None = None
             ) -> dict[str, CheckResult]:
    """Every channel:format check that applies to the probe's kind."""
    if probe.kind == "video":
        return {
            "tiktok:video": _tiktok_video(probe, creator_max_video_seconds),
            "instagram:reel": _instagram_video(probe, "reel"),
            "instagram:story": _instagram_video(probe, "story"),
            "instagram:carousel": _instagram_video(probe, "carousel"),
        }
    return {
        "tiktok:photo": _tiktok_photo(probe),
        "instagram:image": _instagram_image(probe, "image"),
        "instagram:story": _instagram_image(probe, "story"),
        "instagram:carousel": _instagram_image(probe, "carousel"),
        "instagram:cover": _instagram_image(probe, "cover"),
    }


# -- TikTok -------------------------------------------------------------------------------


def _frame_rate(c: _Check, p: Probe, low: float, high: float, platform: str) -> None:
    if p.frame_rate is None:
        c.note("frame_rate_unknown", "The frame rate could not be read; "
               f"{platform} takes {low:g}–{high:g} fps.")
    elif not low - _EPS <= p.frame_rate <= high + _EPS:
        c.fail("frame_rate_out_of_range", f"{platform} takes {low:g}–{high:g} fps; this video "
               f"is {p.frame_rate:g} fps.")


def _tiktok_video(p: Probe, creator_max: int | None) -> CheckResult:
    c, lim = _Check(), TIKTOK
    if p.container not in lim.video_containers:
        c.fail("container_unsupported", f"TikTok takes MP4, WebM or MOV videos, not "
               f"{p.container.upper()}.")
    if p.video_codec not in lim.video_codecs:
        c.fail("video_codec_unsupported", f"TikTok takes H.264, H.265, VP8 or VP9 video, not "
               f"{p.video_codec or 'an unknown codec'}.")
    _frame_rate(c, p, lim.fps_min, lim.fps_max, "TikTok")
    for name, side in (("width", p.width), ("height", p.height)):
        if not lim.side_min <= side <= lim.side_max:
            c.fail("resolution_out_of_range", f"TikTok takes {lim.side_min}–{lim.side_max} px "
                   f"per side; this video's {name} is {side} px.")
    if p.bytes > lim.video_bytes_max:
        c.fail("file_too_large", f"TikTok takes videos up to 4 GB; this one is {_mb(p.bytes)}.")
    limit = min(lim.duration_max, creator_max) if creator_max else lim.duration_max
    if p.duration_seconds is None:
        c.note("duration_unknown", "The duration could not be read.")
    elif p.duration_seconds > limit:
        who = "this creator" if creator_max else "the API"
        c.fail("duration_too_long", f"TikTok takes up to {limit} s from {who}; this video is "
               f"{p.duration_seconds:g} s.")
    elif creator_max is None and p.duration_seconds > lim.duration_everyone:
        c.note("duration_over_creator_default", f"Every creator may post {lim.duration_everyone}"
               f" s; longer ({p.duration_seconds:g} s) only if the account allows it "
               "(checked again when the account is connected).")
    return c.result()


def tiktok_photo_box(p: Probe) -> tuple[int, int]:
    """The (width, height) a TikTok photo must fit, in the picture's own orientation."""
    short, long = TIKTOK.photo_short_side_max, TIKTOK.photo_long_side_max
    return (long, short) if p.width >= p.height else (short, long)


def _tiktok_photo(p: Probe) -> CheckResult:
    c, lim = _Check(), TIKTOK
    box = tiktok_photo_box(p)
    reasons = []
    if p.container not in lim.photo_formats:
        reasons.append(f"TikTok takes JPEG or WebP photos, not {p.container.upper()}")
    if p.width > box[0] or p.height > box[1]:
        reasons.append(f"TikTok takes photos up to 1080p; this one is {p.width}×{p.height}")
    if p.bytes > lim.photo_bytes_max:
        reasons.append(f"TikTok takes photos up to 20 MB; this one is {_mb(p.bytes)}")
    _common_image_reasons(p, reasons)
    if reasons:
        c.derived = _TIKTOK_ROLE
        c.note("derived_copy", "; ".join(reasons) + ". postplan posts a JPEG copy it makes "
               f"(up to {box[0]}×{box[1]}).")
    return c.result()


def _common_image_reasons(p: Probe, reasons: list[str]) -> None:
    if p.exif_orientation not in (None, 1):
        reasons.append("the photo's EXIF orientation is applied so it shows upright")
    if p.color_mode not in (None, "RGB", "L"):
        reasons.append(f"{p.color_mode} colour is converted to RGB")
    if p.frames > 1:
        reasons.append("an animated image is posted as its first frame")


# -- Instagram ----------------------------------------------------------------------------


def _instagram_image(p: Probe, fmt: str) -> CheckResult:
    c, lim = _Check(), INSTAGRAM
    reasons = []
    if p.container not in lim.image_formats:
        what = "extended JPEG (MPO)" if p.container == "mpo" else p.container.upper()
        reasons.append(f"Instagram takes JPEG images only, not {what}")
    if p.bytes > lim.image_bytes_max:
        reasons.append(f"Instagram takes images up to 8 MB; this one is {_mb(p.bytes)}")
    _common_image_reasons(p, reasons)
    if reasons:
        c.derived = _INSTAGRAM_ROLE
        c.note("derived_copy", "; ".join(reasons) + f". postplan posts a JPEG copy it makes "
               f"(at most {lim.width_max} px wide).")
    elif p.width > lim.width_max:
        c.note("width_scaled_by_platform", f"Instagram scales images wider than "
               f"{lim.width_max} px down itself; this one is {p.width} px.")
    if p.width < lim.width_min:
        c.note("width_scaled_by_platform", f"Instagram scales images narrower than "
               f"{lim.width_min} px up itself; this one is {p.width} px, it may look soft.")
    if p.icc_profile:
        c.note("color_profile_converted", "The image has a colour profile other than sRGB; "
               "Instagram converts it (postplan's copies are converted to sRGB).")
    aspect = _aspect(p)
    if fmt in ("image", "carousel") and not (
            lim.feed_aspect_min - 0.005 <= aspect <= lim.feed_aspect_max + 0.005):
        c.fail("aspect_ratio_out_of_range", f"Instagram feed images must be between 4:5 "
               f"(0.8) and 1.91:1 wide; this one is {p.width}×{p.height} ({aspect:.2f}). "
               "Crop it, or post it as a story.")
    if fmt == "story":
        _vertical_note(c, p, "Stories")
    if fmt == "cover" and abs(_aspect(p) - lim.vertical_aspect) > 0.02:
        c.note("cover_cropped", "Instagram centre-crops a reel cover to 9:16 (and to 1:1 in "
               f"the profile grid); this one is {p.width}×{p.height}.")
    if fmt == "carousel":
        c.note("carousel_cropped", "Instagram crops every carousel item to the first item's "
               "aspect ratio.")
    return c.result()


def _vertical_note(c: _Check, p: Probe, what: str) -> None:
    if abs(_aspect(p) - INSTAGRAM.vertical_aspect) > 0.02:
        c.note("aspect_not_recommended", f"{what} are shown 9:16; this is {p.width}×{p.height}, "
               "Instagram will crop or letterbox it.")


def _instagram_video(p: Probe, fmt: str) -> CheckResult:
    c, lim = _Check(), INSTAGRAM
    what = {"reel": "Reels", "story": "Story videos", "carousel": "Carousel videos"}[fmt]
    if p.container not in lim.video_containers:
        c.fail("container_unsupported", f"Instagram takes MP4 or MOV videos, not "
               f"{p.container.upper()}.")
    if p.video_codec not in lim.video_codecs:
        c.fail("video_codec_unsupported", f"Instagram takes H.264 or HEVC video, not "
               f"{p.video_codec or 'an unknown codec'}.")
    if p.has_audio:
        _instagram_audio(c, p)
    if p.pixel_format and "420" not in p.pixel_format:
        c.fail("pixel_format_unsupported", f"Instagram takes 4:2:0 chroma; this video is "
               f"{p.pixel_format}.")
    if p.field_order not in (None, "progressive", "unknown"):
        c.fail("interlaced", "Instagram takes progressive video; this one is interlaced.")
    _frame_rate(c, p, lim.fps_min, lim.fps_max, "Instagram")
    if p.width > lim.video_width_max:
        c.fail("width_too_large", f"Instagram takes videos up to {lim.video_width_max} px wide; "
               f"this one is {p.width} px.")
    rate = p.video_bit_rate or p.bit_rate
    if rate and rate > lim.video_bit_rate_max:
        c.fail("bit_rate_too_high", f"Instagram takes up to 25 Mbps; this video is "
               f"{rate / 1_000_000:.1f} Mbps.")
    low, high = ((lim.story_aspect_min, lim.story_aspect_max) if fmt == "story"
                 else (lim.reel_aspect_min, lim.reel_aspect_max))
    if not low <= _aspect(p) <= high:
        c.fail("aspect_ratio_out_of_range", f"{what} must be between {low:g}:1 and {high:g}:1; "
               f"this one is {p.width}×{p.height}.")
    if fmt == "story":
        dmin, dmax, size = lim.story_duration_min, lim.story_duration_max, lim.story_video_bytes_max
    else:
        # The reference gives no separate limits for carousel videos: the reel's apply.
        dmin, dmax, size = lim.reel_duration_min, lim.reel_duration_max, lim.reel_bytes_max
    if p.duration_seconds is None:
        c.note("duration_unknown", "The duration could not be read.")
    elif p.duration_seconds < dmin - _EPS:
        c.fail("duration_too_short", f"{what} last at least {dmin:g} s; this one is "
               f"{p.duration_seconds:g} s.")
    elif p.duration_seconds > dmax + _EPS:
        c.fail("duration_too_long", f"{what} last at most {dmax:g} s; this one is "
               f"{p.duration_seconds:g} s.")
    if p.bytes > size:
        c.fail("file_too_large", f"{what} are at most {_mb(size)}; this one is {_mb(p.bytes)}.")
    if fmt in ("reel", "story"):
        _vertical_note(c, p, what)
    if p.faststart is False:
        c.derived = _FASTSTART_ROLE
        c.note("derived_copy", "The video's index (moov) is at the end; Instagram wants it at "
               "the front. postplan posts a copy with the index moved (no re-encoding).")
    return c.result()


def _instagram_audio(c: _Check, p: Probe) -> None:
    lim = INSTAGRAM
    if p.audio_codec not in lim.audio_codecs:
        c.fail("audio_codec_unsupported", f"Instagram takes AAC audio, not "
               f"{p.audio_codec or 'an unknown codec'}.")
    if p.audio_sample_rate and p.audio_sample_rate > lim.audio_sample_rate_max:
        c.fail("audio_sample_rate_too_high", f"Instagram takes audio up to 48 kHz; this is "
               f"{p.audio_sample_rate / 1000:g} kHz.")
    if p.audio_channels and p.audio_channels > lim.audio_channels_max:
        c.fail("audio_channels_unsupported", f"Instagram takes mono or stereo audio; this has "
               f"{p.audio_channels} channels.")
    if p.audio_bit_rate and p.audio_bit_rate > lim.audio_bit_rate_max * 1.1:
        c.note("audio_bit_rate_high", f"Instagram specifies 128 kbps audio; this is "
               f"{p.audio_bit_rate // 1000} kbps (Instagram re-encodes it).")
