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
    "Use at most 5 hashtags per entry. Never repeat a hook within the calendar. Write every "
    "field in the language the brief names, natively (not translated word by word), with that "
    "language's date and number formats. Follow the brief's tone and voice samples; use its "
    "offers and link in calls to action that serve its goals; never use a word or topic from "
    "its avoid list; mention only the occasions the slots name (they are right for the "
    "brief's country); never paste the audience description into the copy."
)

#: Language names the prompt spells out (a model follows "German" more reliably than "de").
LANGUAGE_NAMES = {"en": "English", "de": "German", "es": "Spanish", "fr": "French",
                  "pt": "Portuguese", "it": "Italian", "nl": "Dutch", "pl": "Polish",
                  "sv": "Swedish", "da": "Danish", "nb": "Norwegian", "fi": "Finnish",
                  "tr": "Turkish", "ja": "Japanese", "ko": "Korean", "zh": "Chinese"}

#: The answer's shape for servers that support `response_format: json_schema` (strict mode
#: needs every property required and no others).
ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"entries": {"type": "array", "items": {
        "type": "object",
        "properties": {
            "slot": {"type": "integer"},
            "hook": {"type": "string"},
            "caption": {"type": "string"},
            "hashtags": {"type": "array", "items": {"type": "string"}},
            "callToAction": {"type": "string"},
            "assetNotes": {"type": "string"},
        },
        "required": ["slot", "hook", "caption", "hashtags", "callToAction", "assetNotes"],
        "additionalProperties": False,
    }}},
    "required": ["entries"],
    "additionalProperties": False,
}


def response_format() -> dict[str, Any]:
    """The `response_format` asking for `ENTRY_SCHEMA`."""
    return {"type": "json_schema",
            "json_schema": {"name": "calendar_entries", "strict": True, "schema": ENTRY_SCHEMA}}


def language_name(code: str) -> str:
    """`de-AT` → `German (de-AT)`; an unknown code is passed as it is."""
    name = LANGUAGE_NAMES.get(code.split("-", 1)[0].lower())
    return f"{name} ({code})" if name else code


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
    about: dict[str, Any] = {
        "brand": brief.brand,
        "niche": brief.niche,
        "audience": brief.audience,
        "goals": brief.goals,
        "language": language_name(brief.language),
        "country": brief.country,
        "pillars": brief.pillars,
    }
    # The richer brief (DESIGN §10), read defensively: each field is optional.
    for key in ("tone", "voice_samples", "offers", "link", "avoid"):
        value = getattr(brief, key, None)
        if value:
            about[_camel(key)] = _plain(value)
    about = {k: v for k, v in about.items() if v}
    limits = (
        f"Caption limits: TikTok {CAPTION_MAX['tiktok']} characters, Instagram "
        f"{CAPTION_MAX['instagram']} characters."
    )
    user = (
        "Brief:\n" + json.dumps(about, ensure_ascii=False) + "\n\n"
        f"{limits}\n\nSlots ({len(slots)}):\n"
        + json.dumps([slot_json(s) for s in slots], ensure_ascii=False)
        + f"\n\nWrite one object per slot, in slot order, in {language_name(brief.language)}."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def _plain(value: Any) -> Any:
    """Pydantic models (offers) as their JSON; lists and scalars as they are."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", by_alias=True, exclude_none=True)
    return value
