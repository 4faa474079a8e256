"""Exports use the one composer: the ICS description and the bulk CSV text are the text the
channel receives, so a generated call to action appears once and an edited one is the one shown."""

from __future__ import annotations

import datetime as dt

from postplan.channels.compose import compose
from postplan.exports.ics_format import IcsWriter
from postplan.exports.records import ExportCalendar, ExportEntry
from postplan.exports.text import post_text

NOW = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)


def _entry(**fields: object) -> ExportEntry:
    values: dict[str, object] = {
        "id": "e1", "calendar_id": "c1", "run_id": None, "channel": "instagram",
        "format": "reel", "scheduled_at": NOW, "timezone": "UTC", "pillar": "tips",
        "hook": "Stop scrolling", "caption": "Stop scrolling\n\nThree ways to brew.\n\nSave it",
        "hashtags": ("coffee",), "call_to_action": "Save it", "asset_notes": "", "media": (),
        "version": 1, "edited": False, "updated_at": NOW,
        "channel_options": {"instagram": {"firstComment": "hi"}}}
    values.update(fields)
    return ExportEntry(**values)  # type: ignore[arg-type]


def unfold(ics: str) -> str:
    return ics.replace("\r\n ", "").replace("\\n", "\n").replace("\\,", ",")


def test_ics_description_is_the_composed_text_with_the_cta_once() -> None:
    entry = _entry()
    ics = IcsWriter(ExportCalendar("c1", "Cal", {}, "UTC", None, NOW, NOW)).entry(entry)
    text = unfold(ics.decode())
    assert text.count("Save it") == 1
    assert post_text(entry) == compose(entry.hook, entry.caption, entry.call_to_action,
                                       entry.hashtags, "instagram", "reel").text
    assert "Three ways to brew.\n\nSave it\n\n#coffee" in text


def test_json_carries_the_options_and_an_unknown_channel_still_exports() -> None:
    assert _entry().to_json()["channelOptions"] == {"instagram": {"firstComment": "hi"}}
    odd = _entry(channel="mastodon", caption="Body", hook="", call_to_action="Go")
    assert post_text(odd) == "Body\n\nGo\n\n#coffee"
