"""One brief's view of a language's copy bank: its niche family's (or sub-niche's) topics with
their caption bodies, the avoid-list applied, the CTAs for its goal, the tone's openers and the
register (du/Sie, tu/vous) the voice asks for. Built once per brief (cached), shared by every slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from postplan.generation.planner.brief_reading import (
    avoided,
    goal_kind,
    mentions,
    niche_family,
    place_of,
    sub_niche,
)
from postplan.generation.planner.data import body_bank, language_bank, niche_table
from postplan.generation.planner.languages import copy_language
from postplan.generation.planner.voice import Voice, brief_voice
from postplan.generation.schemas import Brief

#: Words a register overlay rules out of topics (whole words): a formal German calendar never
#: says "du", an informal French one never "vous".
REGISTER_WORDS = {
    "formal": re.compile(r"\b(du|dich|dir|dein\w*|euch|euer|eure\w*)\b", re.IGNORECASE),
    "informal": re.compile(r"\b(vous|votre|vos)\b", re.IGNORECASE),
}
#: General topics kept next to a niche bank ("Our story in one minute"), for long calendars.
GENERAL_TOPICS = 4


@dataclass(frozen=True, eq=False)  # hashed by identity: `_bank` hands out one per key
class BriefBank:
    """Templates and fillers for one brief, after the avoid-list."""

    language: str
    family: str
    goal: str
    place: str | None
    topics: tuple[str, ...]
    hooks: tuple[str, ...]
    occasion_hooks: dict[str, tuple[str, ...]]
    occasion_lines: dict[str, tuple[str, ...]]
    ctas: dict[str, tuple[str, ...]]
    tags: tuple[str, ...]
    raw: dict[str, Any]
    #: What the planner had to do about the brief (shown as run notes): e.g. a fallback bank.
    notes: tuple[str, ...]
    #: The sub-niche or family whose topics, lines, tags and emoji are used ("bakery", "tech").
    niche: str = "generic"
    #: topic → the caption sentence about it (general topics have none: they use `lines`).
    bodies: dict[str, str] | None = None
    #: Sentences about the niche itself, for general topics and long captions.
    lines: tuple[str, ...] = ()
    #: topic → a hashtag of its own (not every topic has one).
    topic_tags: dict[str, str] | None = None
    voice: Voice = field(default_factory=Voice)
    #: The tone's openers and engagement CTAs (empty without a tone).
    tone_hooks: tuple[str, ...] = ()
    tone_ctas: tuple[str, ...] = ()
    emoji: str = ""
    #: The general topics among `topics` when the brief has a niche bank (used sparingly).
    general: frozenset[str] = frozenset()


def _keep(items: list[str], avoid: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(i for i in items if not mentions(i, avoid))


def _keep_or_all(items: list[str], avoid: tuple[str, ...]) -> tuple[str, ...]:
    """Templates: drop the avoided ones, but never all of them (they carry no topic)."""
    return _keep(items, avoid) or tuple(items)


def _with_register(raw: dict[str, Any], register: str | None) -> dict[str, Any]:
    """The language bank with a register overlay's keys replaced (German Sie, French tu)."""
    overlay = raw.get("registers", {}).get(register) if register else None
    return {**raw, **overlay} if overlay else raw


@lru_cache(maxsize=128)
def _bank(language: str, family: str, niche: str, goal: str, place: str | None,
          avoid: tuple[str, ...], voice: Voice) -> BriefBank:
    raw = _with_register(language_bank(language), voice.register)
    extra = body_bank(language)
    notes: list[str] = []
    own = extra["subTopics"].get(niche) or raw["topics"][family]
    topics = _keep(own, avoid)
    generic = _keep(raw["topics"]["generic"], avoid)
    if family != "generic" and len(topics) < len(own) // 2:
        notes.append(f"avoid-list removed most {family} topics; general topics fill in")
    if family != "generic":
        generic = generic[:max(GENERAL_TOPICS, 14 - len(topics))]
    merged = tuple(dict.fromkeys(topics + generic))
    if voice.register in REGISTER_WORDS:
        words = REGISTER_WORDS[voice.register]
        merged = tuple(t for t in merged if not words.search(t)) or merged
    if not merged:
        # Everything was avoided: the general bank as written beats an empty calendar.
        notes.append("avoid-list removed every topic; the general topics are used as written")
        merged = tuple(raw["topics"]["generic"])
    hooks = list(raw["hooks"]) + (list(raw["placeHooks"]) if place else [])
    tone = raw.get("tones", {}).get(voice.tone or "", {})
    # A sub-niche's own tags replace the family's (a bakery gets no coffee tags).
    pool = list(extra["subTags"].get(niche) or [*raw["tags"][family],
                                                *extra["moreTags"].get(family, ())])
    tags = _keep(list(dict.fromkeys(pool)), avoid) or _keep(raw["tags"]["generic"], avoid)
    lines = extra["lines"].get(niche) or extra["lines"][family]
    return BriefBank(
        language=language, family=family, goal=goal, place=place, topics=merged,
        hooks=_keep_or_all(hooks, avoid),
        occasion_hooks={k: _keep_or_all(v, avoid) for k, v in raw["occasionHooks"].items()},
        occasion_lines={k: _keep_or_all(v, avoid) for k, v in raw["occasionLines"].items()},
        ctas={k: _keep_or_all(v, avoid) for k, v in raw["ctas"].items()},
        tags=tags, raw=raw, notes=tuple(notes), niche=niche,
        bodies={t: b for t, b in extra["bodies"].items() if t in merged and not mentions(b, avoid)},
        lines=_keep_or_all(lines, avoid),
        topic_tags={t: g for t, g in extra["topicTags"].items()
                    if t in merged and not mentions(g, avoid)},
        voice=voice,
        tone_hooks=_keep(tone.get("hooks", []), avoid),
        tone_ctas=_keep(tone.get("engagement", []), avoid),
        emoji=str(niche_table()["emoji"].get(niche) or niche_table()["emoji"][family]),
        general=frozenset(generic) - frozenset(topics) if family != "generic" else frozenset(),
    )


@lru_cache(maxsize=256)
def _bank_for(language: str, niche: str | None, brand: str, audience: str | None,
              goals: str | None, timezone: str, avoid: tuple[str, ...],
              voice: Voice) -> BriefBank:
    brief = Brief.model_construct(language=language, niche=niche, brand=brand,  # type: ignore[call-arg]
                                  audience=audience, goals=goals, timezone=timezone,
                                  avoid=list(avoid))
    family = niche_family(brief)
    return _bank(copy_language(language), family, sub_niche(brief, family), goal_kind(brief),
                 place_of(brief), avoided(brief), voice)


def brief_bank(brief: Brief) -> BriefBank:
    """The bank for this brief (cached by the fields that choose it: every slot of a calendar
    asks, and reading the free text each time was most of the planner's time)."""
    voice = brief_voice(brief, copy_language(brief.language))
    return _bank_for(brief.language, brief.niche, brief.brand, brief.audience, brief.goals,
                     brief.timezone, tuple(brief.avoid or ()), voice)
