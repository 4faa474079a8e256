"""New copy for slots that already exist (regeneration, docs/regeneration.md).

A `SlotRewriter` is a Generator over a fixed list of slots (the entries being regenerated,
keeping their channel, format, time and pillar): the model writes their copy when the run is
in `ai` mode, the planner otherwise. Hooks already used elsewhere in the calendar, and the
replaced entries' own hooks, are never reused, so the new copy is new. The slots' observances
are taken from the brief's own plan where a planned slot falls at the same time and channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from postplan.generation.base import Generator
from postplan.generation.planner import Slot, normalise_hook, plan_slots, write_entry
from postplan.generation.providers.openai import OpenAICompatibleGenerator
from postplan.generation.schemas import Brief, EntryDraft


def with_observances(brief: Brief, slots: Sequence[Slot]) -> list[Slot]:
    """`slots` with the observance the brief's plan gives the same channel and time."""
    try:
        planned = {(s.channel, s.utc): s for s in plan_slots(brief)}
    except Exception:  # a brief the planner cannot plan still gets its copy rewritten
        planned = {}
    out: list[Slot] = []
    for slot in slots:
        match = planned.get((slot.channel, slot.utc))
        if match is not None and match.observance and not slot.observance:
            slot = Slot(slot.index, slot.channel, slot.format, slot.scheduled_at, slot.timezone,
                        slot.pillar, match.observance, match.observance_date)
        out.append(slot)
    return out


class SlotRewriter:
    """A Generator writing fresh copy for the given slots, in slot order."""

    def __init__(self, inner: Generator, slots: Sequence[Slot], used_hooks: set[str]) -> None:
        self.inner = inner
        self.mode = inner.mode
        self.slots = list(slots)
        self.used_hooks = {normalise_hook(h) for h in used_hooks}

    def expected_entries(self, brief: Brief) -> int:
        """One entry per slot."""
        return len(self.slots)

    def would_queue(self) -> bool:
        """Whether the model call would wait for a slot (never for the planner)."""
        check = getattr(self.inner, "would_queue", None)
        return bool(check()) if callable(check) else False

    async def stream(self, brief: Brief) -> AsyncIterator[EntryDraft]:
        """Yield the new copy for each slot (the model's, or the planner's)."""
        slots = with_observances(brief, self.slots)
        if isinstance(self.inner, OpenAICompatibleGenerator):
            async for draft in self.inner.stream(brief, slots=slots,
                                                 used_hooks=self.used_hooks):
                yield draft
            return
        hooks = set(self.used_hooks)
        for slot in slots:
            yield write_entry(brief, slot, hooks)
            await asyncio.sleep(0)  # many slots: let the saving side run between them
