"""evaluate: each platform rule, on probes built by hand (plus a few from real files)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from postplan.media.inspection import IMAGE_KEYS, VIDEO_KEYS, Probe, evaluate, probe
from tests.fixtures.media_files import MediaFiles
from tests.media.inspection.probes import codes, image, notes, video


def test_a_good_video_and_image_pass_everywhere() -> None:
    v, i = evaluate(video()), evaluate(image())
    assert tuple(v) == VIDEO_KEYS and tuple(i) == IMAGE_KEYS
    for result in (*v.values(), *i.values()):
        assert result.ok and not result.findings and result.derived is None, result


@pytest.mark.parametrize(("changes", "key", "code"), [
    ({"container": "avi", "content_type": "video/x-msvideo"}, "tiktok:video",
     "container_unsupported"),
    ({"container": "webm"}, "instagram:reel", "container_unsupported"),
    ({"video_codec": "mpeg4"}, "tiktok:video", "video_codec_unsupported"),
    ({"video_codec": "vp9"}, "instagram:reel", "video_codec_unsupported"),
    ({"frame_rate": 5.0}, "tiktok:video", "frame_rate_out_of_range"),
    ({"frame_rate": 120.0}, "instagram:reel", "frame_rate_out_of_range"),
    ({"width": 320, "height": 240}, "tiktok:video", "resolution_out_of_range"),
    ({"width": 4320, "height": 7680}, "tiktok:video", "resolution_out_of_range"),
    ({"bytes": 4_100_000_000}, "tiktok:video", "file_too_large"),
    ({"duration_seconds": 601.0}, "tiktok:video", "duration_too_long"),
    ({"duration_seconds": 2.0}, "instagram:reel", "duration_too_short"),
    ({"duration_seconds": 901.0}, "instagram:reel", "duration_too_long"),
    ({"duration_seconds": 61.0}, "instagram:story", "duration_too_long"),
    ({"duration_seconds": 2.5}, "instagram:story", "duration_too_short"),
    ({"bytes": 300_000_001}, "instagram:reel", "file_too_large"),
    ({"bytes": 100_000_001}, "instagram:story", "file_too_large"),
    ({"width": 2160, "height": 3840}, "instagram:reel", "width_too_large"),
    ({"audio_codec": "opus"}, "instagram:reel", "audio_codec_unsupported"),
    ({"audio_sample_rate": 96_000}, "instagram:reel", "audio_sample_rate_too_high"),
    ({"audio_channels": 6}, "instagram:story", "audio_channels_unsupported"),
    ({"pixel_format": "yuv422p"}, "instagram:reel", "pixel_format_unsupported"),
    ({"field_order": "tt"}, "instagram:reel", "interlaced"),
    ({"video_bit_rate": 40_000_000}, "instagram:reel", "bit_rate_too_high"),
    ({"width": 1080, "height": 108_100}, "instagram:reel", "aspect_ratio_out_of_range"),
    ({"width": 1080, "height": 10_900}, "instagram:story", "aspect_ratio_out_of_range"),
])
def test_video_findings(changes: dict[str, Any], key: str, code: str) -> None:
    result = evaluate(video(**changes))[key]
    assert not result.ok
    assert code in codes(result)
    assert all(f.message for f in result.findings)


def test_the_creators_own_limit_wins_and_is_never_above_ten_minutes() -> None:
    four_minutes = video(duration_seconds=240.0)
    assert evaluate(four_minutes, creator_max_video_seconds=300)["tiktok:video"].ok
    short = evaluate(four_minutes, creator_max_video_seconds=180)["tiktok:video"]
    assert codes(short) == ["duration_too_long"] and "180 s" in short.findings[0].message
    # Unknown limit: allowed up to the API's 10 minutes, with a note past every creator's 3.
    unknown = evaluate(four_minutes)["tiktok:video"]
    assert unknown.ok and notes(unknown) == ["duration_over_creator_default"]
    assert not evaluate(video(duration_seconds=700.0),
                        creator_max_video_seconds=3600)["tiktok:video"].ok


def test_frame_rates_at_the_edges_pass() -> None:
    for fps in (23.0, 23.976, 29.97, 59.94, 60.0):
        assert evaluate(video(frame_rate=fps))["tiktok:video"].ok, fps
    assert not evaluate(video(frame_rate=22.5))["tiktok:video"].ok


def test_index_at_the_end_is_fixed_by_a_remuxed_copy_for_instagram() -> None:
    checks = evaluate(video(faststart=False))
    for key in ("instagram:reel", "instagram:story", "instagram:carousel"):
        assert checks[key].ok and checks[key].derived == "faststart"
    assert checks["tiktok:video"].derived is None  # TikTok gets the bytes by FILE_UPLOAD


def test_a_blocked_check_names_no_derived_copy() -> None:
    result = evaluate(video(faststart=False, duration_seconds=1.0))["instagram:reel"]
    assert not result.ok and result.derived is None


def test_landscape_reel_is_allowed_with_a_note() -> None:
    result = evaluate(video(width=1920, height=1080))["instagram:reel"]
    assert result.ok and notes(result) == ["aspect_not_recommended"]


@pytest.mark.parametrize(("changes", "tiktok", "instagram"), [
    ({}, None, None),
    ({"container": "png", "content_type": "image/png"}, "tiktok-photo", "instagram-jpeg"),
    ({"container": "webp", "content_type": "image/webp"}, None, "instagram-jpeg"),
    ({"container": "heif", "content_type": "image/heic"}, "tiktok-photo", "instagram-jpeg"),
    ({"container": "mpo"}, "tiktok-photo", "instagram-jpeg"),
    ({"exif_orientation": 6}, "tiktok-photo", "instagram-jpeg"),
    ({"color_mode": "CMYK"}, "tiktok-photo", "instagram-jpeg"),
    ({"bytes": 9_000_000}, None, "instagram-jpeg"),
    ({"bytes": 21_000_000}, "tiktok-photo", "instagram-jpeg"),
    ({"width": 2400, "height": 3000}, "tiktok-photo", None),  # over 1080p; IG scales it
    ({"width": 1920, "height": 1080}, None, None),  # landscape 1080p fits
])
def test_image_copies(changes: dict[str, Any], tiktok: str | None,
                      instagram: str | None) -> None:
    checks = evaluate(image(**changes))
    assert checks["tiktok:photo"].ok and checks["tiktok:photo"].derived == tiktok
    assert checks["instagram:image"].ok and checks["instagram:image"].derived == instagram
    assert checks["instagram:story"].derived == instagram
    assert checks["instagram:cover"].derived == instagram
    for key in IMAGE_KEYS:
        assert ("derived_copy" in notes(checks[key])) is (checks[key].derived is not None)


@pytest.mark.parametrize(("size", "ok"), [
    ((1080, 1350), True), ((1080, 1080), True), ((1910, 1000), True),
    ((1000, 1300), False), ((2000, 1000), False), ((1000, 300), False),
])
def test_feed_aspect_ratio(size: tuple[int, int], ok: bool) -> None:
    checks = evaluate(image(width=size[0], height=size[1]))
    for key in ("instagram:image", "instagram:carousel"):
        assert checks[key].ok is ok
        assert ("aspect_ratio_out_of_range" in codes(checks[key])) is not ok
    assert checks["instagram:story"].ok  # stories take any shape (9:16 recommended)


def test_a_reel_cover_is_any_shape_with_a_crop_note() -> None:
    upright = evaluate(image(width=1080, height=1920))["instagram:cover"]
    square = evaluate(image(width=1080, height=1080))["instagram:cover"]
    assert upright.ok and "cover_cropped" not in notes(upright)
    assert square.ok and "cover_cropped" in notes(square)
    assert evaluate(image(width=3000, height=300))["instagram:cover"].ok


def test_instagram_width_outside_its_range_is_a_note() -> None:
    wide = evaluate(image(width=2160, height=2700))["instagram:image"]
    narrow = evaluate(image(width=300, height=300))["instagram:image"]
    assert wide.ok and notes(wide) == ["width_scaled_by_platform"]
    assert narrow.ok and notes(narrow) == ["width_scaled_by_platform"]


async def test_real_files(media_files: MediaFiles) -> None:
    good = evaluate(await probe(media_files.get("good.mp4")))
    assert all(r.ok for r in good.values()), good
    slow = evaluate(await probe(media_files.get("5fps.mp4")))
    assert "frame_rate_out_of_range" in codes(slow["tiktok:video"])
    webm = evaluate(await probe(media_files.get("vp9.webm")))
    assert "container_unsupported" in codes(webm["instagram:reel"])
    assert "container_unsupported" not in codes(webm["tiktok:video"])
    broadcast = evaluate(await probe(media_files.get("interlaced-422.mp4")))
    assert {"interlaced", "pixel_format_unsupported"} <= set(codes(broadcast["instagram:reel"]))
    png = evaluate(await probe(media_files.get("logo.png")))
    assert png["instagram:image"].derived == "instagram-jpeg"
    wide = evaluate(await probe(media_files.get("wide.jpg")))
    assert codes(wide["instagram:image"]) == ["aspect_ratio_out_of_range"]


async def test_a_stored_probe_is_checked_again_with_the_creators_limit(
        media_files: MediaFiles) -> None:
    stored = json.loads(json.dumps((await probe(media_files.get("good.mp4"))).model_dump(
        mode="json")))
    again = Probe.model_validate(stored)
    assert evaluate(again)["tiktok:video"].ok
    assert codes(evaluate(again, creator_max_video_seconds=2)["tiktok:video"]) == [
        "duration_too_long"]
