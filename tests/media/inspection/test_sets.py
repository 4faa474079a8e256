"""evaluate_set: one post's files together (counts, kinds, carousel crop)."""

from __future__ import annotations

import pytest

from postplan.media.inspection import evaluate_set
from tests.media.inspection.probes import codes, image, notes, video


def test_carousel_counts() -> None:
    assert not evaluate_set([image()], "instagram", "carousel").ok
    assert evaluate_set([image(), video()], "instagram", "carousel").ok  # mixed is fine
    eleven = evaluate_set([image()] * 11, "instagram", "carousel")
    assert codes(eleven) == ["media_count_invalid"]
    assert "2 to 10" in eleven.findings[0].message


def test_item_findings_name_their_position() -> None:
    result = evaluate_set([image(), image(width=1000, height=300)], "instagram", "carousel")
    assert codes(result) == ["aspect_ratio_out_of_range"]
    assert result.findings[0].message.startswith("File 2: ")


def test_differing_shapes_get_the_crop_note() -> None:
    same = evaluate_set([image(), image()], "instagram", "carousel")
    mixed = evaluate_set([image(), image(width=1080, height=1080)], "instagram", "carousel")
    assert "carousel_cropped" not in notes(same)
    assert "carousel_cropped" in notes(mixed)


def test_kinds_per_format() -> None:
    assert codes(evaluate_set([video()], "tiktok", "photo")) == ["media_type_invalid"]
    assert codes(evaluate_set([image()], "instagram", "reel")) == ["media_type_invalid"]
    assert codes(evaluate_set([video(), video()], "tiktok", "video")) == ["media_count_invalid"]
    assert evaluate_set([image()] * 35, "tiktok", "photo").ok
    assert codes(evaluate_set([image()] * 36, "tiktok", "photo")) == ["media_count_invalid"]
    assert codes(evaluate_set([], "instagram", "story")) == ["media_count_invalid"]
    assert evaluate_set([video(duration_seconds=20.0)], "instagram", "story").ok


def test_the_creator_limit_reaches_the_items() -> None:
    long = [video(duration_seconds=200.0)]
    assert evaluate_set(long, "tiktok", "video").ok
    assert not evaluate_set(long, "tiktok", "video", creator_max_video_seconds=180).ok


def test_a_format_the_channel_lacks_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no reel format"):
        evaluate_set([video()], "tiktok", "reel")
