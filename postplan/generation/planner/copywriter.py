"""Deterministic copy for a slot: hook, caption, hashtags, call to action, asset notes.

Words come from the brief's language bank (generation/data/copy/<lang>.json) and niche family;
composition goes through `compose.render`, so no template can print a broken sentence.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from functools import lru_cache
from itertools import islice

from postplan.core.text import utf16_len
from postplan.core.vocab import Channel
from postplan.generation.planner.compose import format_date, render
from postplan.generation.planner.copybank import BriefBank, brief_bank
from postplan.generation.planner.pillars import pillar_category
from postplan.generation.planner.seeding import brief_digest, derived_rng
from postplan.generation.planner.slots import Slot
from postplan.generation.planner.spelling import american, american_tags, wants_us_spelling
from postplan.generation.planner.tags import hashtags
from postplan.generation.planner.text import (
    CAPTION_MAX,
    HOOK_MAX,
    capitalise_first,
    normalise_hook,
    shorten,
    tokens,
)
from postplan.generation.schemas import Brief, EntryDraft

# The planner avoids hooks this similar to an earlier one, leaving margin below the scorer's
# near-duplicate threshold (text.NEAR_DUPLICATE).
AVOID_SIMILARITY = 0.7
MAX_CANDIDATES = 400
#: A general topic ("Our story in one minute") waits until each niche topic had this many more
#: turns: most posts are about the niche, long calendars still get variety.
GENERAL_PENALTY = 3
#: How many of the least-used topics the search for a fresh hook opening may go through.
FRESH_OPENER_TOPICS = 2
CTA_MAX = 120  # the call to action stays a short line, brand included


class UsedHooks(set[str]):
    """The normalised hooks of a calendar so far, plus what a whole calendar's writing keeps
    for speed: the brief's digest and bank, topic counts and hook token sets (a plain set works
    too, e.g. for the model path's repairs, only slower: O(n²) over a 184-entry calendar)."""

    def __init__(self, brief: Brief) -> None:
        super().__init__()
        self.digest = brief_digest(brief)
        self.bank = brief_bank(brief)
        self.topic_counts: dict[str, int] = {}
        self.token_sets: list[frozenset[str]] = []
        # Posts written so far per channel: the niche tags rotate by this count, not by date.
        self.tag_turns: dict[Channel, int] = {}
        #: The first two words of each hook so far (a calendar varies how hooks open).
        self.openers: set[str] = set()


@lru_cache(maxsize=8192)
def _tokens_cached(normalised: str) -> frozenset[str]:
    return tokens(normalised)


@lru_cache(maxsize=4096)
def _norm(text: str) -> str:
    return normalise_hook(text)


@lru_cache(maxsize=512)
def _orders(digest: bytes, bank: BriefBank) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The brief's own order of hook templates and topics (cached: every slot shares it)."""
    rng = derived_rng(digest, "hook-order", bank.language)
    templates = list(bank.hooks)
    rng.shuffle(templates)
    topics = list(bank.topics)
    rng.shuffle(topics)
    return tuple(templates), tuple(topics)


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


_NO_BANG = re.compile(r"\s?!")


@lru_cache(maxsize=8192)
def opener_of(normalised: str) -> str:
    """The first two words of a normalised hook (as the quality report counts openers)."""
    return " ".join(normalised.split()[:2])


def _same_day(slot: Slot) -> bool:
    return slot.observance_date == slot.scheduled_at.date()


def _fillers(brief: Brief, bank: BriefBank, slot: Slot, topic: str) -> dict[str, str]:
    offers = brief.offers or []
    offer = offers[slot.index % len(offers)] if offers else None
    link = (offer.link if offer and offer.link else None) or brief.link or ""
    out = {
        "Topic": topic,
        "Place": bank.place or "",
        "Occasion": slot.observance or "",
        "Date": format_date(slot.observance_date, bank.raw) if slot.observance_date else "",
        "Offer": offer.name if offer else "",
        "Description": offer.description or "" if offer else "",
        "Link": link,
        "Brand": brief.brand,
    }
    return out


@lru_cache(maxsize=16384)
def _hook_text(template: str, topic: str, place: str, occasion: str, date: str,
               brand: str) -> str | None:
    """A hook template rendered (cached: a calendar tries the same pairs slot after slot)."""
    return render(template, {"Topic": topic, "Place": place, "Occasion": occasion, "Date": date,
                             "Brand": brand})


def _pick_hook(brief: Brief, bank: BriefBank, slot: Slot, digest: bytes, rng: random.Random,
               used: set[str]) -> tuple[str, str]:
    base_templates, base_topics = _orders(digest, bank)
    templates = list(base_templates)
    topical = list(bank.occasion_hooks["same_day" if _same_day(slot) else "ahead"]) \
        if slot.observance else []
    # Topics used least so far come first, so each returns only after the others had their
    # turn; occasion templates go first on their days.
    start = rng.randrange(len(base_topics))
    if isinstance(used, UsedHooks):
        n = len(base_topics)
        general = bank.general
        order = sorted(range(n), key=lambda p: (
            used.topic_counts.get(base_topics[(start + p) % n], 0)
            + GENERAL_PENALTY * (base_topics[(start + p) % n] in general), p))
        topics = [base_topics[(start + p) % n] for p in order]
        used_tokens = used.token_sets
    else:
        topics = _least_used_first(list(base_topics), [_norm(x) for x in base_topics],
                                   "\n".join(used), start)
        used_tokens = [_tokens_cached(u) for u in used]
    t0 = rng.randrange(len(templates))
    templates = templates[t0:] + templates[:t0]

    tone_hooks = bank.tone_hooks if slot.index % 2 == 0 else ()

    def candidates() -> Iterator[tuple[str, str]]:
        for k in range(len(topical)):
            for topic in topics[:3]:
                yield topical[(slot.index + k) % len(topical)], topic
        for n, topic in enumerate(topics[:4] if tone_hooks else ()):
            for k in range(len(tone_hooks)):
                yield tone_hooks[(slot.index // 2 + n + k) % len(tone_hooks)], topic
        for n, topic in enumerate(topics):
            for k in range(len(templates)):
                yield templates[(n + k) % len(templates)], topic

    # A hook whose first two words open an earlier hook is kept only if nothing fresher fits.
    openers = used.openers if isinstance(used, UsedHooks) else set()
    same_opener: tuple[str, str] | None = None
    fallback: tuple[float, str, str] | None = None
    date = format_date(slot.observance_date, bank.raw) if slot.observance_date else ""
    budget = MAX_CANDIDATES
    # Looking for a fresh opening may pass over the least-used topic, not over the next ones.
    fresh_search = 3 * len(topical) + 4 * len(tone_hooks) + FRESH_OPENER_TOPICS * len(templates)
    for template, topic in islice(candidates(), MAX_CANDIDATES):
        budget -= 1
        if same_opener is not None and budget < MAX_CANDIDATES - fresh_search:
            break
        hook = _hook_text(template, topic, bank.place or "", slot.observance or "", date,
                          brief.brand)
        if hook is None or len(hook) > HOOK_MAX:
            continue
        norm = _norm(hook)
        if not norm or norm in used:
            continue
        # Occasion hooks name their day: they go first even with a familiar opening.
        repeated = opener_of(norm) in openers and template not in topical
        if repeated and same_opener is not None:
            continue
        worst = _max_similarity(_tokens_cached(norm), used_tokens, AVOID_SIMILARITY + 0.05)
        if worst < AVOID_SIMILARITY:
            if not repeated:
                return hook, topic
            same_opener = (hook, topic)
        if fallback is None or worst < fallback[0]:
            fallback = (worst, hook, topic)
    if same_opener is not None:
        return same_opener
    if fallback is not None and fallback[0] < AVOID_SIMILARITY + 0.05:
        return fallback[1], fallback[2]
    # Last resort: a numbered variant, still unique ("Our story in one minute (2)").
    base = shorten(capitalise_first(topics[0]), HOOK_MAX - 6)
    n = 2
    while _norm(f"{base} ({n})") in used:
        n += 1
    return f"{base} ({n})", topics[0]


def _tag_turn(used_hooks: set[str], slot: Slot) -> int | None:
    """The channel's count of posts written so far (None without a whole calendar's state)."""
    if not isinstance(used_hooks, UsedHooks):
        return None
    turn = used_hooks.tag_turns.get(slot.channel, 0)
    used_hooks.tag_turns[slot.channel] = turn + 1
    return turn


def _cta(brief: Brief, bank: BriefBank, slot: Slot, fillers: dict[str, str],
         rng: random.Random, promotional: bool) -> str:
    """A call to action that serves the brief's goal: visits → come by, bookings → the booking
    link, signups → the sign-up link, sales → the offer's link. Goal CTAs on promotional posts
    and two posts in three, an engagement CTA (save, comment, follow) otherwise."""
    goal = bank.goal
    if goal == "engagement" and promotional and (brief.offers or brief.link):
        goal = "sales"
    if goal != "engagement" and not promotional and slot.index % 3 == 1:
        goal = "engagement"
    key = goal
    if goal in ("bookings", "signups", "sales") and not fillers["Link"]:
        key = f"{goal}_nolink"
    templates = bank.ctas[key]
    if key == "engagement" and bank.tone_ctas:
        templates = (*bank.tone_ctas, *templates)
    options = [c for c in (render(t, fillers) for t in templates) if c]
    options = [c for c in options if len(c) <= CTA_MAX]
    if not options and key in ("bookings", "signups", "sales"):  # a link too long for a CTA
        options = [c for c in (render(t, fillers) for t in bank.ctas[f"{key}_nolink"]) if c]
    if not options:
        options = [c for c in (render(t, fillers) for t in bank.ctas["engagement"]) if c]
    return _exclaim(rng.choice(options), bank)


def _exclaim(line: str, bank: BriefBank) -> str:
    """A line in the voice's punctuation: "!" for playful and bold, none for professional
    (or a brand whose samples never use one), as written otherwise. URLs stay untouched."""
    wanted = bank.voice.exclaim
    if wanted is None or "http" in line:
        return line
    if wanted is False:
        return _NO_BANG.sub(".", line.replace("¡", "")).replace("..", ".")
    if line.endswith("."):
        line = line[:-1] + (" !" if bank.language == "fr" else "!")
        if bank.language == "es" and not line.startswith("¡"):
            line = "¡" + line
    return line


def _body(bank: BriefBank, slot: Slot, topic: str) -> str:
    """What the caption says about the topic: its own sentence, or a line about the niche for a
    general topic; long-form voices add a niche line after the topic's sentence."""
    lines = bank.lines
    own = (bank.bodies or {}).get(topic)
    pick = lines[slot.index % len(lines)] if lines else ""
    if not own:
        return pick
    return f"{own} {pick}" if bank.voice.length == "long" and pick else own


def _with_emoji(hook: str, body: str, bank: BriefBank, slot: Slot) -> tuple[str, str]:
    """The niche's emoji where the voice wants one: after the hook (playful, and every other
    post of a brand whose samples use emoji), after the body (warm)."""
    voice = bank.voice
    if not voice.emoji or not bank.emoji:
        return hook, body
    if voice.tone == "warm":
        return hook, f"{body} {bank.emoji}" if body else body
    if (voice.tone == "playful" or slot.index % 2 == 0) and len(hook) + 2 <= HOOK_MAX:
        return f"{hook} {bank.emoji}", body
    return hook, body


def write_entry(brief: Brief, slot: Slot, used_hooks: set[str]) -> EntryDraft:
    """Copy for one slot, deterministic given the brief, the slot and the hooks used so far.
    Adds the new hook (normalised) to `used_hooks`, so hooks never repeat within a calendar."""
    if isinstance(used_hooks, UsedHooks):
        digest, bank = used_hooks.digest, used_hooks.bank
    else:
        digest, bank = brief_digest(brief), brief_bank(brief)
    rng = derived_rng(digest, "copy", slot.index, slot.channel.value)
    hook, topic = _pick_hook(brief, bank, slot, digest, rng, used_hooks)
    norm = normalise_hook(hook)
    used_hooks.add(norm)
    if isinstance(used_hooks, UsedHooks):
        used_hooks.topic_counts[topic] = used_hooks.topic_counts.get(topic, 0) + 1
        used_hooks.token_sets.append(_tokens_cached(norm))
        used_hooks.openers.add(opener_of(norm))
    fillers = _fillers(brief, bank, slot, topic)
    category = pillar_category(slot.pillar)
    promotional = category == "promotion"

    lines: list[str | None] = [_body(bank, slot, topic)]
    if promotional and fillers["Offer"]:
        template = bank.raw["offerLine"] if fillers["Description"] else "{Offer}"
        lines.append(render(template, fillers))
    if slot.observance:
        options = bank.occasion_lines["same_day" if _same_day(slot) else "ahead"]
        lines.append(render(rng.choice(options), fillers))
    body = " ".join(line for line in lines if line)
    if bank.voice.exclaim is False:  # CTAs get the "!" of a lively voice, bodies never
        body = _exclaim(body, bank)
    cta = _cta(brief, bank, slot, fillers, rng, promotional)
    if bank.voice.exclaim is False:  # "Happy Easter! Today: ..." → "Happy Easter. Today: ..."
        hook = _exclaim(hook, bank)
    hook, body = _with_emoji(hook, body, bank, slot)
    caption = f"{hook}\n\n{body}\n\n{cta}"
    if utf16_len(caption) > CAPTION_MAX:  # only reachable with extreme inputs
        caption = shorten(caption, CAPTION_MAX // 2)

    words = bank.raw["assetNotes"]  # production notes in the brief's language too
    notes = f"{words[slot.format.value]} {words['show']}: {topic}."
    if slot.observance:
        notes += f" {words['occasion']}: {slot.observance}."
    if brief.goals:
        notes += f" {words['goal']}: {shorten(brief.goals, 120)}."
    tags = hashtags(brief, bank, slot, topic, rng, _tag_turn(used_hooks, slot))
    if wants_us_spelling(brief):  # the English bank is British
        hook, caption, cta, notes = (american(t, brief) for t in (hook, caption, cta, notes))
        tags = american_tags(tags)
    return slot.draft(hook=hook, caption=caption, hashtags=tags, call_to_action=cta,
                      asset_notes=notes)
