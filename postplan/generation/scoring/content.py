"""Checks on each entry's own content: schema, channel format, captions, hooks, hashtags and
hook uniqueness.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from pydantic import ValidationError

from postplan.core.text import utf16_len
from postplan.core.vocab import FORMATS_BY_CHANNEL, Channel
from postplan.generation.planner.text import (
    ASSET_NOTES_LIMIT,
    CAPTION_MAX,
    CTA_LIMIT,
    HOOK_MAX,
    NEAR_DUPLICATE,
    is_valid_hashtag,
    normalise_hook,
    token_set_similarity,
    tokens,
)
from postplan.generation.schemas import Brief, EntryDraft
from postplan.generation.scoring.result import Check, Problems, make_check

HASHTAG_LIMITS: dict[Channel, tuple[int, int]] = {
    Channel.instagram: (0, 5),  # hard cap since Dec 2025
    Channel.tiktok: (3, 5),
}
HASHTAG_SIMILAR_PAIRS_MAX = 0.05  # share of consecutive same-channel posts with near-equal tags


def check_schema(brief: Brief, entries: Sequence[EntryDraft], **_: Any) -> Check:
    """Every entry validates, sits on a channel of the brief and has no empty text."""
    p = Problems()
    if not entries:
        p.add("the calendar has no entries")
    for i, e in enumerate(entries):
        try:
            EntryDraft.model_validate(e.model_dump())
        except ValidationError as exc:
            p.add(f"#{i}: {exc.errors()[0]['msg']}")
            continue
        if e.channel not in brief.channels:
            p.add(f"#{i}: channel {e.channel} is not in the brief")
        for name in ("hook", "caption", "call_to_action", "asset_notes", "pillar"):
            if not str(getattr(e, name)).strip():
                p.add(f"#{i}: {name} is empty")
    return make_check("schema", p, max(1, len(entries)))


def check_channel_format(brief: Brief, entries: Sequence[EntryDraft], **_: Any) -> Check:
    """Every entry's format exists on its channel."""
    p = Problems()
    for i, e in enumerate(entries):
        if e.format not in FORMATS_BY_CHANNEL.get(e.channel, ()):
            p.add(f"#{i}: format {e.format} is not available on {e.channel}")
    return make_check("channel_format", p, len(entries))


def check_captions(brief: Brief, entries: Sequence[EntryDraft], **_: Any) -> Check:
    """Caption (with hashtags), call to action and asset notes within limits."""
    p = Problems()
    for i, e in enumerate(entries):
        # What gets published: the caption plus " #tag" per hashtag (TikTok counts them toward
        # its limit, in UTF-16 units; Instagram's 2,200 covers the same text).
        text = e.caption + "".join(f" #{t}" for t in e.hashtags)
        size = utf16_len(text) if e.channel == Channel.tiktok else len(text)
        if size > CAPTION_MAX:
            p.add(f"#{i}: caption with hashtags is {size} long, limit {CAPTION_MAX}")
        if not e.call_to_action.strip():
            p.add(f"#{i}: no call to action")
        elif len(e.call_to_action) > CTA_LIMIT:
            p.add(f"#{i}: call to action is {len(e.call_to_action)} long, limit {CTA_LIMIT}")
        if len(e.asset_notes) > ASSET_NOTES_LIMIT:
            p.add(f"#{i}: asset notes are {len(e.asset_notes)} long, limit {ASSET_NOTES_LIMIT}")
    return make_check("captions", p, len(entries))


def check_hooks(brief: Brief, entries: Sequence[EntryDraft], **_: Any) -> Check:
    """Hooks are present, one line, and within the length limit."""
    p = Problems()
    for i, e in enumerate(entries):
        if not e.hook.strip():
            p.add(f"#{i}: empty hook")
        elif len(e.hook) > HOOK_MAX:
            p.add(f"#{i}: hook is {len(e.hook)} characters, limit {HOOK_MAX}")
        elif "\n" in e.hook:
            p.add(f"#{i}: hook spans several lines")
    return make_check("hooks", p, len(entries))


def check_hashtags(brief: Brief, entries: Sequence[EntryDraft], **_: Any) -> Check:
    """Hashtag counts per channel, their form, and little reuse between posts."""
    p = Problems()
    for i, e in enumerate(entries):
        low, high = HASHTAG_LIMITS.get(e.channel, (0, 5))
        if not low <= len(e.hashtags) <= high:
            p.add(f"#{i}: {len(e.hashtags)} hashtags on {e.channel}, want {low}-{high}")
        bad = [t for t in e.hashtags if not is_valid_hashtag(t)]
        if bad:
            p.add(f"#{i}: malformed hashtags {bad} (no '#', word characters only)")
        if len({t.casefold() for t in e.hashtags}) != len(e.hashtags):
            p.add(f"#{i}: repeated hashtag")
    similar = pairs = 0
    by_channel: dict[Channel, list[EntryDraft]] = defaultdict(list)
    for e in entries:
        by_channel[e.channel].append(e)
    for items in by_channel.values():
        for a, b in pairwise(items):
            pairs += 1
            sa, sb = {t.casefold() for t in a.hashtags}, {t.casefold() for t in b.hashtags}
            if sa and sb and len(sa & sb) / len(sa | sb) > 0.8:
                similar += 1
    if pairs and similar > max(1, HASHTAG_SIMILAR_PAIRS_MAX * pairs):
        p.add(f"{similar} of {pairs} consecutive posts reuse nearly the same hashtags")
    return make_check("hashtags", p, max(1, len(entries)), similarPairs=similar)


def check_hook_uniqueness(brief: Brief, entries: Sequence[EntryDraft], **_: Any) -> Check:
    """No repeated or nearly repeated hooks."""
    p = Problems()
    normal = [normalise_hook(e.hook) for e in entries]
    seen: dict[str, int] = {}
    for i, h in enumerate(normal):
        if h in seen:
            p.add(f"#{i} repeats the hook of #{seen[h]}: {entries[i].hook!r}")
        else:
            seen[h] = i
    unique = list(seen.items())
    sets = [tokens(h) for h, _ in unique]
    near = 0
    for a in range(len(unique)):
        for b in range(a + 1, len(unique)):
            if token_set_similarity(sets[a], sets[b]) >= NEAR_DUPLICATE:
                near += 1
                p.add(f"#{unique[b][1]} nearly repeats #{unique[a][1]}: "
                      f"{entries[unique[b][1]].hook!r}")
    bigrams = [tuple(h.split()[k:k + 2]) for h in normal for k in range(len(h.split()) - 1)]
    distinct2 = len(set(bigrams)) / len(bigrams) if bigrams else 1.0
    return make_check("hook_uniqueness", p, max(1, len(entries)), nearDuplicates=near,
                   distinct2=round(distinct2, 4))
