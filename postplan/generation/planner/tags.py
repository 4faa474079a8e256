"""Hashtags for one post: occasion, topic, niche pool, brand and place, varied across posts.

The niche pool (a sub-niche's own, or the family's plus extras) rotates by the channel's post
count, a few tags per post, so no pool tag sits on most posts; the topic adds its own tag; the
brand and the place each come on every third day, on different days.
"""

from __future__ import annotations

import random
import re

from postplan.core.vocab import Channel
from postplan.generation.planner.compose import tag_from_words
from postplan.generation.planner.copybank import BriefBank
from postplan.generation.planner.slots import Slot
from postplan.generation.planner.text import is_valid_hashtag
from postplan.generation.schemas import Brief

HASHTAG_RANGE: dict[Channel, tuple[int, int]] = {
    Channel.tiktok: (3, 5),  # docs/research.md, planning §3.5: 3-5 relevant hashtags
    Channel.instagram: (3, 5),  # hard cap of 5 since Dec 2025
}
# A leading word with a digit ("1.", "4th", "1er") says which one, not what: "1. Advent" → Advent.
_LEADING_NUMBER = re.compile(r"^\s*\w*\d\w*\.?\s+")


def occasion_tag(name: str) -> str:
    """The tag of an occasion name, without leading numbers or ordinals ('' when none left)."""
    while (m := _LEADING_NUMBER.match(name)) and name[m.end():].strip():
        name = name[m.end():]
    tag = tag_from_words(name)
    return "" if not tag or tag[0].isdigit() else tag


def hashtags(brief: Brief, bank: BriefBank, slot: Slot, topic: str, rng: random.Random,
             turn: int | None = None) -> list[str]:
    """3-5 valid single-word tags for a post (see the module docstring); `turn` is the
    channel's count of posts so far (by date without one)."""
    low, high = HASHTAG_RANGE[slot.channel]
    want = min(high, low + 1 + (rng.random() < 0.35))  # 4 or 5
    fixed: list[str] = []
    if slot.observance:
        fixed.append(occasion_tag(slot.observance))
    fixed.append((bank.topic_tags or {}).get(topic, ""))
    # By date (a channel posts at most once a day), shifted per channel.
    day = slot.scheduled_at.date().toordinal() + (slot.channel == Channel.instagram)
    if day % 3 == 0:
        fixed.append(tag_from_words(brief.brand))
    if bank.place and day % 3 == 1:
        fixed.append(tag_from_words(bank.place))
    pool = [t for t in bank.tags if t and is_valid_hashtag(t)]
    if pool:
        step = 3
        count = day if turn is None else turn
        # The two channels start half a pool apart, so a day's posts differ too.
        offset = (count * step + (len(pool) // 2) * (slot.channel == Channel.tiktok)) % len(pool)
        pool = pool[offset:] + pool[:offset]
    chosen: list[str] = []
    seen: set[str] = set()
    for tag in [*fixed, *pool]:
        if len(chosen) >= want:
            break
        if not tag or not is_valid_hashtag(tag) or tag.casefold() in seen:
            continue
        seen.add(tag.casefold())
        chosen.append(tag)
    return chosen
