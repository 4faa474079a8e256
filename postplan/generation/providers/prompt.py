"""The chat prompt: the planner has fixed every slot; the model only writes the copy."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from postplan.generation.planner import Slot
from postplan.generation.schemas import Brief

#: Limits told to the model; `repair` enforces them whatever the model does.
HOOK_MAX = 100
CAPTION_MAX = {"tiktok": 4000, "instagram": 2200}
HASHTAGS_MAX = 5
CTA_MAX = 200
ASSET_NOTES_MAX = 1000

SYSTEM_PROMPT = (
    "You write social-media copy for a content calendar. The schedule is already fixed; you "
    "write only the words. Answer with ONE JSON array and nothing else: no prose, no code "
    "fence. The array has one object per slot, in slot order, each exactly: "
    '{"slot": <slot index>, "hook": "<first line, at most 100 characters>", '
    '"caption": "<caption without hashtags>", "hashtags": ["<word without #>", ...], '
    '"callToAction": "<short call to action>", "assetNotes": "<what to film or design>"}. '
    "Use at most 5 hashtags per entry. Never repeat a hook within the calendar. Write in the "
    "brief's language."
)


def slot_json(slot: Slot) -> dict[str, Any]:
    """What the model needs to know about one slot."""
    data: dict[str, Any] = {
        "slot": slot.index,
        "channel": str(slot.channel),
        "format": str(slot.format),
        "when": slot.scheduled_at.isoformat(),
        "pillar": slot.pillar,
    }
    if slot.observance:
        data["observance"] = str(slot.observance)
    return data


def build_messages(brief: Brief, slots: Sequence[Slot]) -> list[dict[str, str]]:
    """System + user messages for one calendar."""
    about = {
        "brand": brief.brand,
        "niche": brief.niche,
        "audience": brief.audience,
        "goals": brief.goals,
        "language": brief.language,
        "country": brief.country,
        "pillars": brief.pillars,
    }
    about = {k: v for k, v in about.items() if v}
    limits = (
        f"Caption limits: TikTok {CAPTION_MAX['tiktok']} characters, Instagram "
        f"{CAPTION_MAX['instagram']} characters."
    )
    user = (
        "Brief:\n" + json.dumps(about, ensure_ascii=False) + "\n\n"
        f"{limits}\n\nSlots ({len(slots)}):\n"
        + json.dumps([slot_json(s) for s in slots], ensure_ascii=False)
        + "\n\nWrite one object per slot, in slot order."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
