"""One brief's view of a language's copy bank: its niche family's topics, the avoid-list
applied, the CTAs for its goal. Built once per brief (cached) and shared by every slot."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from postplan.generation.planner.brief_reading import (
    avoided,
    goal_kind,
    mentions,
    niche_family,
    place_of,
)
from postplan.generation.planner.data import language_bank
from postplan.generation.planner.languages import copy_language
from postplan.generation.schemas import Brief


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
    bodies: dict[str, tuple[str, ...]]
    occasion_lines: dict[str, tuple[str, ...]]
    ctas: dict[str, tuple[str, ...]]
    tags: tuple[str, ...]
    raw: dict[str, Any]
    #: What the planner had to do about the brief (shown as run notes): e.g. a fallback bank.
    notes: tuple[str, ...]


def _keep(items: list[str], avoid: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(i for i in items if not mentions(i, avoid))


def _keep_or_all(items: list[str], avoid: tuple[str, ...]) -> tuple[str, ...]:
    """Templates: drop the avoided ones, but never all of them (they carry no topic)."""
    return _keep(items, avoid) or tuple(items)


@lru_cache(maxsize=128)
def _bank(language: str, family: str, goal: str, place: str | None,
          avoid: tuple[str, ...]) -> BriefBank:
    raw = language_bank(language)
    notes: list[str] = []
    topics = _keep(raw["topics"][family], avoid)
    generic = _keep(raw["topics"]["generic"], avoid)
    if family != "generic" and len(topics) < len(raw["topics"][family]) // 2:
        notes.append(f"avoid-list removed most {family} topics; general topics fill in")
    merged = tuple(dict.fromkeys(topics + generic))
    if not merged:
        # Everything was avoided: the general bank as written beats an empty calendar.
        notes.append("avoid-list removed every topic; the general topics are used as written")
        merged = tuple(raw["topics"]["generic"])
    hooks = list(raw["hooks"]) + (list(raw["placeHooks"]) if place else [])
    return BriefBank(
        language=language, family=family, goal=goal, place=place, topics=merged,
        hooks=_keep_or_all(hooks, avoid),
        occasion_hooks={k: _keep_or_all(v, avoid) for k, v in raw["occasionHooks"].items()},
        bodies={k: _keep_or_all(v, avoid) for k, v in raw["bodies"].items()},
        occasion_lines={k: _keep_or_all(v, avoid) for k, v in raw["occasionLines"].items()},
        ctas={k: _keep_or_all(v, avoid) for k, v in raw["ctas"].items()},
        tags=_keep(raw["tags"][family], avoid) or _keep(raw["tags"]["generic"], avoid),
        raw=raw, notes=tuple(notes),
    )


@lru_cache(maxsize=256)
def _bank_for(language: str, niche: str | None, brand: str, audience: str | None,
              goals: str | None, timezone: str, avoid: tuple[str, ...]) -> BriefBank:
    brief = Brief.model_construct(language=language, niche=niche, brand=brand,  # type: ignore[call-arg]
                                  audience=audience, goals=goals, timezone=timezone,
                                  avoid=list(avoid))
    return _bank(copy_language(language), niche_family(brief), goal_kind(brief),
                 place_of(brief), avoided(brief))


def brief_bank(brief: Brief) -> BriefBank:
    """The bank for this brief (cached by the fields that choose it: every slot of a calendar
    asks, and reading the free text each time was most of the planner's time)."""
    return _bank_for(brief.language, brief.niche, brief.brand, brief.audience, brief.goals,
                     brief.timezone, tuple(brief.avoid or ()))
