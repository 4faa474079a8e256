"""The one composer: each part once, in order, within each platform's limits."""

from __future__ import annotations

from postplan.calendars.entry_options import carry_edit
from postplan.channels.compose import compose

GENERATED = "Stop scrolling\n\nThree ways to brew.\n\nSave this for later"


def test_generated_caption_keeps_its_hook_and_cta_once() -> None:
    text = compose("Stop scrolling", GENERATED, "Save this for later", ["coffee", "#brew"],
                   "tiktok", "video").text
    assert text == GENERATED + "\n\n#coffee #brew"
    assert text.count("Save this for later") == 1 and text.count("Stop scrolling") == 1


def test_a_caption_without_hook_or_cta_gets_them_around_it() -> None:
    out = compose("Hook", "Body #coffee", "Follow us", ["coffee", "tea"], "instagram", "reel")
    assert out.text == "Hook\n\nBody #coffee\n\nFollow us\n\n#tea" and out.findings == []


def test_an_edited_hook_replaces_the_caption_copy() -> None:
    caption = carry_edit(GENERATED, "Stop scrolling", "Wait!", first=True)
    caption = carry_edit(caption, "Save this for later", "", first=False)
    assert caption == "Wait!\n\nThree ways to brew."
    assert carry_edit("My own words", "Stop scrolling", "Wait!", first=True) == "My own words"


def test_limits_give_findings_instead_of_cutting() -> None:
    emoji = "😀" * 1101  # 2,202 UTF-16 units but 1,101 characters
    assert [f.code for f in compose("", emoji, "", [], "tiktok", "video").findings] == [
        "caption_too_long"]
    assert compose("", emoji, "", [], "instagram", "reel").findings == []
    tags = [f"t{i}" for i in range(31)]
    mentions = " ".join(f"@u{i}" for i in range(21))
    codes = {f.code for f in compose("", mentions, "", tags, "instagram", "image").findings}
    assert codes == {"too_many_hashtags", "too_many_mentions"}


def test_tiktok_photo_title_is_the_hook_within_90_units_and_stories_carry_no_text() -> None:
    out = compose("word " * 30, "Body", "", [], "tiktok", "photo")
    assert out.title is not None and len(out.title) <= 90 and out.title.endswith("…")
    assert out.text.startswith("word word")
    assert compose("Hook", "Body", "CTA", ["x"], "instagram", "story").text == ""
