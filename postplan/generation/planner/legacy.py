"""The legacy response (CALENDAR_SERVICE_ENABLED off): a fixed-template calendar.

No randomness at all: fixed weekdays and times per channel, pillars round-robin, one format per
channel, numbered hooks. Identical briefs give identical entries.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from postplan.core.vocab import Channel, EntryFormat
from postplan.generation.planner.cadence import posts_per_week
from postplan.generation.planner.pillars import default_pillars
from postplan.generation.planner.slots import resolve_local, utc_key
from postplan.generation.planner.text import HOOK_MAX, shorten, to_hashtag
from postplan.generation.schemas import Brief, EntryDraft

# Weekdays (Mon=0) used for n posts a week, spread out.
_PATTERNS: dict[int, tuple[int, ...]] = {
    1: (2,), 2: (1, 3), 3: (0, 2, 4), 4: (0, 1, 3, 4), 5: (0, 1, 2, 3, 4),
    6: (0, 1, 2, 3, 4, 5), 7: (0, 1, 2, 3, 4, 5, 6),
}
_TIME = {Channel.tiktok: dt.time(17, 0), Channel.instagram: dt.time(11, 0)}
_FORMAT = {Channel.tiktok: EntryFormat.video, Channel.instagram: EntryFormat.reel}
_TAGS = {Channel.tiktok: ("contentcreator", "tips"), Channel.instagram: ("instagood", "tips")}


def legacy_entries(brief: Brief) -> list[EntryDraft]:
    """The legacy calendar for a brief, sorted by (scheduledAt, channel)."""
    zone = zoneinfo.ZoneInfo(brief.timezone)
    pillars = default_pillars(brief)
    raw: list[tuple[dt.datetime, Channel]] = []
    for channel in sorted(brief.channels, key=lambda c: c.value):
        weekdays = _PATTERNS[max(1, min(7, posts_per_week(brief, channel)))]
        for i in range(brief.days):
            day = brief.start_date + dt.timedelta(days=i)
            if day.weekday() in weekdays:
                when = resolve_local(day, _TIME[channel], zone)
                if when is not None:
                    raw.append((when, channel))
    if not raw:  # a window shorter than the pattern's gaps still gets one post per channel
        for channel in sorted(brief.channels, key=lambda c: c.value):
            when = resolve_local(brief.start_date, _TIME[channel], zone)
            if when is not None:
                raw.append((when, channel))
    raw.sort(key=lambda r: (utc_key(r[0]), r[1].value))
    out: list[EntryDraft] = []
    brand_tag = to_hashtag(brief.brand)
    for n, (when, channel) in enumerate(raw, start=1):
        pillar = pillars[(n - 1) % len(pillars)]
        hook = f"{shorten(pillar, 40).capitalize()} post #{n}: {brief.brand}"
        if len(hook) > HOOK_MAX:
            hook = f"{shorten(pillar, 40).capitalize()} post #{n}"
        tags = [t for t in (brand_tag, to_hashtag(pillar), *_TAGS[channel]) if t][:5]
        out.append(
            EntryDraft(
                channel=channel,
                format=_FORMAT[channel],
                scheduled_at=when,
                timezone=brief.timezone,
                pillar=pillar,
                hook=hook,
                caption=f"{hook}\n\n{_article(pillar)} {pillar} post from {brief.brand}.",
                hashtags=list(dict.fromkeys(tags)),
                call_to_action="Follow for more.",
                asset_notes="Vertical 9:16 video, 15-30 s." if channel is Channel.tiktok
                else "Reel 9:16, 15-30 s.",
            )
        )
    return out


def _article(word: str) -> str:
    """"An" before a vowel sound written as a vowel, else "A" (English legacy copy only)."""
    return "An" if word[:1].lower() in "aeiou" else "A"
