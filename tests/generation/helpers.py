"""Brief builders shared by the generation tests."""

from __future__ import annotations

from postplan.generation.planner import plan_entries
from postplan.generation.schemas import Brief, EntryDraft


def make_brief(**overrides: object) -> Brief:
    """A realistic brief (camelCase keys, as on the wire) with overrides."""
    data: dict[str, object] = {
        "brand": "Bean There",
        "niche": "specialty coffee",
        "audience": "home baristas",
        "goals": "grow the newsletter and sell the spring subscription",
        "startDate": "2026-03-02",
        "days": 30,
        "timezone": "Europe/Berlin",
    }
    data.update(overrides)
    return Brief.model_validate(data)


def entries_for(brief: Brief) -> list[EntryDraft]:
    """The planner's whole calendar for a brief."""
    return plan_entries(brief)


def each(n: int | None, channels: tuple[str, ...] = ("tiktok", "instagram")) -> object:
    """`postsPerWeek` as n per channel (a bare number is a total across channels)."""
    return None if n is None else dict.fromkeys(channels, n)
