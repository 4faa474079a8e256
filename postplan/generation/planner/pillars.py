"""Content pillars: defaults, target shares and the category that picks copy templates."""

from __future__ import annotations

from postplan.generation.planner.data import copy_bank
from postplan.generation.schemas import Brief

# docs/research.md, planning §3.3: 3-5 pillars is the consensus; 40/30/20/10
# teach/show/story/offer, and promotion capped near 20%. Integer weights keep largest-deficit
# arithmetic exact.
DEFAULT_PILLARS: tuple[tuple[str, int], ...] = (
    ("education", 35),
    ("behind the scenes", 25),
    ("community", 25),
    ("promotion", 15),
)


def default_pillars(brief: Brief) -> list[str]:
    """The pillars a calendar rotates through: the brief's own, or four sensible defaults."""
    if brief.pillars:
        return list(brief.pillars)
    return [name for name, _ in DEFAULT_PILLARS]


def pillar_weights(brief: Brief) -> dict[str, int]:
    """Integer target weights per pillar (equal for user pillars)."""
    if brief.pillars:
        return {p: 1 for p in brief.pillars}
    return dict(DEFAULT_PILLARS)


def pillar_category(pillar: str) -> str:
    """Map a free-text pillar to a template category (education, community, ... or generic)."""
    folded = pillar.casefold()
    keywords: dict[str, list[str]] = copy_bank()["categoryKeywords"]
    for category, words in keywords.items():
        if any(word in folded for word in words):
            return category
    return "generic"
