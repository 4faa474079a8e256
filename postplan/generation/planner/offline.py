"""The default generator: planner slots plus template copy, no network, deterministic."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

from postplan.generation.planner.copywriter import UsedHooks, write_entry
from postplan.generation.planner.slots import count_slots, plan_slots
from postplan.generation.schemas import Brief, EntryDraft


class OfflinePlanner:
    """Implements `postplan.generation.base.Generator` without any model."""

    mode = "planner"

    def expected_entries(self, brief: Brief) -> int:
        """Exactly the number of entries `stream` yields for this brief."""
        return count_slots(brief)

    async def stream(self, brief: Brief) -> AsyncIterator[EntryDraft]:
        """Yield each entry as soon as its copy is written, in `scheduledAt` order."""
        used = UsedHooks(brief)
        for slot in plan_slots(brief):
            yield write_entry(brief, slot, used)


def plan_entries(brief: Brief) -> list[EntryDraft]:
    """The whole planner calendar at once (CLI, tests, benchmarks)."""
    used = UsedHooks(brief)
    return [write_entry(brief, slot, used) for slot in plan_slots(brief)]


def warm_up() -> None:
    """Load the data files and the holidays machinery (~0.3 s once per process) so the first
    request does not pay for it. Call it at application start-up; safe to call repeatedly."""
    from postplan.generation.planner.data import (
        best_times,
        body_bank,
        copy_bank,
        language_bank,
        marketing_days,
        niche_table,
    )
    from postplan.generation.planner.languages import SUPPORTED
    from postplan.generation.planner.observances import observances_between

    best_times()
    copy_bank()
    marketing_days()
    niche_table()
    for language in SUPPORTED:  # the copy banks: topics, bodies, tones, tags
        language_bank(language)
        body_bank(language)
    observances_between("US", dt.date(2026, 1, 1), dt.date(2026, 1, 2))
