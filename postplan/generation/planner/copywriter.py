"""Deterministic copy for a slot: hook, caption, hashtags, call to action, asset notes."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Any

from postplan.core.text import utf16_len
from postplan.core.vocab import Channel
from postplan.generation.planner.data import copy_bank
from postplan.generation.planner.pillars import pillar_category
from postplan.generation.planner.seeding import brief_digest, derived_rng
from postplan.generation.planner.slots import Slot
from postplan.generation.planner.text import (
    CAPTION_MAX,
    HOOK_MAX,
    capitalise_first,
    is_valid_hashtag,
    normalise_hook,
    shorten,
    to_hashtag,
    tokens,
)
from postplan.generation.schemas import Brief, EntryDraft

# The planner avoids hooks this similar to an earlier one, leaving margin below the scorer's
# near-duplicate threshold (text.NEAR_DUPLICATE).
AVOID_SIMILARITY = 0.7
MAX_CANDIDATES = 400
CTA_MAX = 120  # the call to action stays a short line, brand included
SHORT = 30  # niche/audience/pillar are cut to this many characters inside hooks
HASHTAG_RANGE: dict[Channel, tuple[int, int]] = {
    Channel.tiktok: (3, 5),  # docs/research.md, planning §3.5: 3-5 relevant hashtags
    Channel.instagram: (3, 5),  # hard cap of 5 since Dec 2025
}
_STOPWORDS = frozenset({
    "a", "an", "and", "the", "of", "for", "to", "in", "on", "with", "by", "at", "from", "or",
    "your", "our", "my", "their", "its", "is", "are", "be", "who", "that", "this", "those",
    "these", "into", "about", "over", "under", "people",
})


@dataclass(frozen=True)
class _Context:
    brand: str
    niche: str | None
    audience: str | None
    pillar: str
    category: str


@lru_cache(maxsize=8192)
def _tokens_cached(normalised: str) -> frozenset[str]:
    return tokens(normalised)


def _fill(template: str, ctx: _Context, subject: str, observance: str | None) -> str | None:
    """Render one template; None when it needs a field the brief does not have."""
    if "{niche}" in template and ctx.niche is None:
        return None
    if "{audience}" in template and ctx.audience is None:
        return None
    if "{observance}" in template and observance is None:
        return None
    text = template.replace("{Subject}", capitalise_first(subject))
    for key, value in (
        ("{subject}", subject),
        ("{niche}", ctx.niche or ""),
        ("{audience}", ctx.audience or ""),
        ("{pillar}", ctx.pillar),
        ("{observance}", observance or ""),
    ):
        text = text.replace(key, value)
    # The brand goes in last and verbatim, so braces or quotes inside it are never re-expanded.
    return capitalise_first(text).replace("{brand}", ctx.brand)


@lru_cache(maxsize=512)
def _hook_orders(
    digest: bytes, category: str, pillar: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The brief's own order of hook templates and of the category's subjects (cached: every
    slot of a pillar shares it)."""
    order_rng = derived_rng(digest, "hook-order", category)
    templates: list[str] = list(copy_bank()["hooks"])
    order_rng.shuffle(templates)
    bank: dict[str, list[str]] = copy_bank()["subjects"]
    subjects = [s.replace("{pillar}", pillar) for s in bank[category]]
    order_rng.shuffle(subjects)
    return tuple(templates), tuple(subjects)


@lru_cache(maxsize=512)
def _tag_pool(digest: bytes, category: str, niche_extra: tuple[str, ...]) -> tuple[str, ...]:
    bank: dict[str, list[str]] = copy_bank()["hashtags"]
    pool = list(dict.fromkeys(niche_extra + tuple(bank[category])))
    derived_rng(digest, "tags", category).shuffle(pool)
    return tuple(pool)


def _topical_templates(slot: Slot) -> list[str]:
    if slot.observance is None:
        return []
    same_day = slot.observance_date == slot.scheduled_at.date()
    return list(copy_bank()["observanceHooks"]["same_day" if same_day else "ahead"])


@lru_cache(maxsize=4096)
def _norm(text: str) -> str:
    return normalise_hook(text)


def _least_used_first(items: list[str], keys: list[str], joined: str, start: int) -> list[str]:
    """Items ordered by how often their key occurs in the used hooks, then by a rotation."""
    n = len(items)
    counts = [joined.count(k) if k else 0 for k in keys]
    order = sorted(range(n), key=lambda p: (counts[(start + p) % n], p))
    return [items[(start + p) % n] for p in order]


def _max_similarity(mine: frozenset[str], others: list[frozenset[str]], stop: float) -> float:
    """Largest token-set Jaccard between `mine` and any of `others`; returns early at `stop`.
    Sets whose sizes alone rule out reaching 0.7 are skipped (the hot loop of a big calendar)."""
    worst = 0.0
    size = len(mine)
    for other in others:
        n = len(other)
        if n * 10 < size * 7 or size * 10 < n * 7:
            continue
        shared = len(mine & other)
        sim = shared / (size + n - shared) if size + n else 1.0
        if sim > worst:
            worst = sim
            if worst >= stop:
                break
    return worst


def _pick_hook(
    ctx: _Context, slot: Slot, digest: bytes, rng: random.Random, used: set[str]
) -> tuple[str, str]:
    base_templates, base_subjects = _hook_orders(digest, ctx.category, ctx.pillar)
    templates = list(base_templates)
    subjects = list(base_subjects)
    topical = _topical_templates(slot)
    # Subjects used least so far come first, so each returns only after the others had their
    # turn; topical (observance) templates go first on their days.
    joined = "\n".join(used)  # order does not matter to str.count
    subjects = _least_used_first(
        subjects, [_norm(x) for x in subjects], joined, rng.randrange(len(subjects))
    )
    # Templates just rotate from a per-slot start: counting them too doubled the cost.
    t0 = rng.randrange(len(templates))
    templates = templates[t0:] + templates[:t0]
    used_tokens = [_tokens_cached(u) for u in used]

    def candidates() -> Iterator[tuple[str, str]]:
        for k in range(len(topical)):
            for subject in subjects[:3]:
                yield topical[(slot.index + k) % len(topical)], subject
        for n, subject in enumerate(subjects):
            for k in range(len(templates)):
                yield templates[(n + k) % len(templates)], subject

    fallback: tuple[float, str, str] | None = None
    for template, subject in islice(candidates(), MAX_CANDIDATES):
        hook = _fill(template, ctx, subject, slot.observance)
        if hook is None or len(hook) > HOOK_MAX:
            continue
        norm = _norm(hook)
        if not norm or norm in used:
            continue
        mine = _tokens_cached(norm)
        worst = _max_similarity(mine, used_tokens, AVOID_SIMILARITY + 0.05)
        if worst < AVOID_SIMILARITY:
            return hook, subject
        if fallback is None or worst < fallback[0]:
            fallback = (worst, hook, subject)
    if fallback is not None and fallback[0] < AVOID_SIMILARITY + 0.05:
        return fallback[1], fallback[2]
    # Last resort: a numbered variant, still unique.
    base = shorten(f"{capitalise_first(subjects[0])} with {ctx.pillar}", HOOK_MAX - 12)
    n = 2
    while _norm(f"{base}, part {n}") in used:
        n += 1
    return f"{base}, part {n}", subjects[0]


def _hashtags(
    ctx: _Context, brief: Brief, slot: Slot, rng: random.Random, digest: bytes
) -> list[str]:
    low, high = HASHTAG_RANGE[slot.channel]
    want = low + 1 + (rng.random() < 0.35)  # 4 or 5 tags
    niche_tags: list[str] = []
    if brief.niche:
        whole = to_hashtag(brief.niche)
        if whole and len(whole) <= 20:
            niche_tags.append(whole)
        else:
            niche_tags.extend(
                to_hashtag(w) for w in brief.niche.split() if w.casefold() not in _STOPWORDS
            )
    # Brand tag + pillar tag + the niche's main tag (+ the day's observance), then rotating
    # topic tags; the channel cap trims from the end.
    fixed = [to_hashtag(ctx.brand), to_hashtag(ctx.pillar), *niche_tags[:1]]
    if slot.observance:
        fixed.append(to_hashtag(slot.observance))
    bank: dict[str, list[str]] = copy_bank()["hashtags"]
    pool = list(_tag_pool(digest, ctx.category, tuple(niche_tags[1:3])))
    # Rotate by the post's date so consecutive posts on a channel (always on different days)
    # draw different tags: the same set only comes back after len(pool) days.
    step = 3 if len(pool) % 3 else 1
    offset = (slot.scheduled_at.date().toordinal() * step) % len(pool)
    pool = pool[offset:] + pool[:offset]
    # At least one rotating tag, so neighbouring posts never carry identical sets.
    want = min(high, max(want, len([t for t in fixed if t]) + 1))
    chosen: list[str] = []
    seen: set[str] = set()
    for tag in [*fixed, *pool, *bank["generic"]]:
        if len(chosen) >= want:
            break
        if not tag or not is_valid_hashtag(tag) or tag.casefold() in seen:
            continue
        seen.add(tag.casefold())
        chosen.append(tag)
    return chosen


def _context(brief: Brief, slot: Slot) -> _Context:
    return _Context(
        brand=brief.brand,
        niche=shorten(brief.niche, SHORT) if brief.niche else None,
        audience=shorten(brief.audience, SHORT) if brief.audience else None,
        pillar=shorten(slot.pillar, SHORT),
        category=pillar_category(slot.pillar),
    )


def write_entry(brief: Brief, slot: Slot, used_hooks: set[str]) -> EntryDraft:
    """Copy for one slot, deterministic given the brief, the slot and the hooks used so far.
    Adds the new hook (normalised) to `used_hooks`, so hooks never repeat within a calendar."""
    digest = brief_digest(brief)
    rng = derived_rng(digest, "copy", slot.index, slot.channel.value)
    ctx = _context(brief, slot)
    hook, subject = _pick_hook(ctx, slot, digest, rng, used_hooks)
    used_hooks.add(normalise_hook(hook))
    bank: dict[str, Any] = copy_bank()

    values = {
        "{subject}": subject,
        "{niche}": ctx.niche or ctx.pillar,
        "{audience}": ctx.audience or "you",
        "{pillar}": ctx.pillar,
    }
    body = str(rng.choice(bank["bodies"][ctx.category]))
    for key, value in values.items():
        body = body.replace(key, value)
    body = capitalise_first(body).replace("{brand}", ctx.brand)
    if slot.observance:
        same_day = slot.observance_date == slot.scheduled_at.date()
        line = str(rng.choice(bank["observanceLines"]["same_day" if same_day else "ahead"]))
        body = f"{body} {line.replace('{observance}', slot.observance)}"
    ctas = [c.replace("{brand}", ctx.brand) for c in bank["ctas"][ctx.category]]
    cta = rng.choice([c for c in ctas if len(c) <= CTA_MAX])
    caption = f"{hook}\n\n{body}\n\n{cta}"
    if utf16_len(caption) > CAPTION_MAX:  # only reachable with extreme inputs
        caption = shorten(caption, CAPTION_MAX // 2)

    notes = f"{bank['assetNotes'][slot.format.value]} Show: {subject}."
    if slot.observance:
        notes += f" Nod to {slot.observance}."
    if brief.goals:
        notes += f" Goal: {shorten(brief.goals, 120)}."
    if brief.language.split("-")[0] != "en":
        # The templates are English; say so where the creator will see it.
        notes += f" Translate on-screen text and caption to {brief.language}."

    return slot.draft(
        hook=hook,
        caption=caption,
        hashtags=_hashtags(ctx, brief, slot, rng, digest),
        call_to_action=cta,
        asset_notes=notes,
    )
