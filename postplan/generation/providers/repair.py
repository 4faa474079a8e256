"""Turn one object from the model into a valid EntryDraft, borrowing from the planner as needed.

The slot (channel, format, time, zone, pillar) always comes from the planner; only the copy comes
from the model. A field that is missing, of the wrong type, blank, over its limit or (for hooks)
a repeat is replaced by the planner's deterministic copy for that slot, so a bad answer degrades
to planner copy instead of breaking the stream.
"""

from __future__ import annotations

import re
from typing import Any

from postplan.generation.planner import Slot, normalise_hook, write_entry
from postplan.generation.providers.prompt import (
    ASSET_NOTES_MAX,
    CAPTION_MAX,
    CTA_MAX,
    HASHTAGS_MAX,
    HOOK_MAX,
)
from postplan.generation.schemas import Brief, EntryDraft
from postplan.generation.scoring.language import language_mismatch

_TAG = re.compile(r"^\w+$", re.UNICODE)


def avoid_terms(brief: Brief) -> list[str]:
    """The brief's avoid-list, casefolded (empty when the brief has none)."""
    raw = getattr(brief, "avoid", None) or []
    return [str(t).casefold().strip() for t in raw if str(t).strip()]


def avoided(text: str, terms: list[str]) -> bool:
    """True when `text` uses an avoided word or phrase (whole words, any case)."""
    low = text.casefold()
    return any(re.search(rf"(?<!\w){re.escape(t)}(?!\w)", low) for t in terms)


class HookBook:
    """The hooks used so far in one calendar, normalised the way the planner compares them."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    def __contains__(self, hook: str) -> bool:
        return normalise_hook(hook) in self.keys

    def add(self, hook: str) -> None:
        self.keys.add(normalise_hook(hook))


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "").strip()
    if not text or len(text) > limit:
        return None
    return text


def _hashtags(value: Any) -> list[str] | None:
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list):
        return None
    tags: list[str] = []
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, str):
            continue
        tag = item.strip().lstrip("#").strip()
        if not tag or not _TAG.match(tag) or len(tag) > 100 or tag.casefold() in seen:
            continue
        seen.add(tag.casefold())
        tags.append(tag)
    return tags[:HASHTAGS_MAX] or None


def _fit_caption(caption: str, hashtags: list[str], limit: int) -> str:
    # TikTok counts hashtags toward the caption limit, so leave room for them on both channels.
    room = limit - sum(len(t) + 2 for t in hashtags)
    if len(caption) <= room:
        return caption
    cut = caption[: max(room - 1, 0)].rsplit(" ", 1)[0].rstrip()
    return cut + "…"


def repair_entry(
    brief: Brief, slot: Slot, data: dict[str, Any] | None, hooks: HookBook
) -> tuple[EntryDraft, int]:
    """The entry for `slot` from the model's `data` (None: unusable), and how many fields were
    filled from the planner. The chosen hook is added to `hooks`."""
    fallback: EntryDraft | None = None

    def planner() -> EntryDraft:
        nonlocal fallback
        if fallback is None:
            fallback = write_entry(brief, slot, set(hooks.keys))
        return fallback

    data = data or {}
    filled = 0
    terms = avoid_terms(brief)
    body = " ".join(v for v in (data.get("hook"), data.get("caption")) if isinstance(v, str))
    if body and language_mismatch(body, brief.language):
        # Copy in the wrong language is no copy for this brief: the planner's entry, counted.
        data = {}
    for key in ("hook", "caption", "callToAction", "assetNotes"):
        value = data.get(key)
        if isinstance(value, str) and terms and avoided(value, terms):
            data = {**data, key: None}  # the planner's copy for this field (counted below)
    if terms and isinstance(data.get("hashtags"), list):
        data = {**data, "hashtags": [t for t in data["hashtags"]
                                     if not (isinstance(t, str) and avoided(t, terms))]}
    hook = _text(data.get("hook"), HOOK_MAX)
    if hook is None or hook in hooks:
        hook = planner().hook
        filled += 1
    limit = CAPTION_MAX.get(str(slot.channel), 2200)
    tags = _hashtags(data.get("hashtags"))
    if tags is None:
        tags = list(planner().hashtags)[:HASHTAGS_MAX]
        filled += 1
    raw_caption = data.get("caption")
    caption = raw_caption.replace("\x00", "").strip() if isinstance(raw_caption, str) else ""
    if not caption:
        caption = planner().caption
        filled += 1
    caption = _fit_caption(caption, tags, limit)
    cta = _text(data.get("callToAction", data.get("call_to_action", data.get("cta"))), CTA_MAX)
    if cta is None:
        cta = planner().call_to_action
        filled += 1
    notes_raw = data.get("assetNotes", data.get("asset_notes"))
    notes = notes_raw.replace("\x00", "").strip() if isinstance(notes_raw, str) else ""
    if not notes:
        notes = planner().asset_notes
        filled += 1
    notes = notes[:ASSET_NOTES_MAX]
    hooks.add(hook)
    draft = slot.draft(hook=hook, caption=caption, hashtags=tags, call_to_action=cta,
                       asset_notes=notes)
    return draft, filled


def slot_of(data: dict[str, Any] | None) -> int | None:
    """The slot index the model named, if it named one as an integer."""
    if not data:
        return None
    value = data.get("slot", data.get("index"))
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
