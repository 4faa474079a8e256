"""What the planner tells the client about how it read a brief (the `run` event's extra fields,
docs/briefs.md): which `postsPerWeek` form it used, the cadence per channel, and notes on
fallbacks (an avoid-list that emptied a bank, a language only a model writes, ...)."""

from __future__ import annotations

from typing import Any

from postplan.generation.planner.cadence import posts_per_week, week_targets
from postplan.generation.planner.copybank import brief_bank
from postplan.generation.planner.languages import planner_supports
from postplan.generation.planner.observances import unknown_includes
from postplan.generation.planner.slots import plan_slots
from postplan.generation.schemas import Brief


def plan_notes(brief: Brief) -> dict[str, Any]:
    """`{"postsPerWeekMode", "postsPerWeek": {channel: n}, "notes": [...]}` for the `run`
    event. Cheap: the slot plan is cached for the run that follows."""
    cadence = {c.value: posts_per_week(brief, c) for c in brief.channels}
    notes: list[str] = []
    if brief.posts_per_week_mode == "total":
        split = ", ".join(f"{c} {n}" for c, n in cadence.items())
        notes.append(f"postsPerWeek {brief.posts_per_week} is a total across channels: {split}")
    for channel, n in cadence.items():
        if n == 0:
            notes.append(f"{channel} gets no posts: the weekly total is smaller than the number "
                         "of channels")
    planned: dict[str, int] = {}
    for slot in plan_slots(brief):
        planned[slot.channel.value] = planned.get(slot.channel.value, 0) + 1
    for channel in brief.channels:
        wanted = sum(q for _, q in week_targets(brief, channel))
        got = planned.get(channel.value, 0)
        if got < wanted:
            notes.append(f"{channel.value}: {got} of {wanted} posts fit the open days "
                         "(closed days and posting windows)")
    if not planner_supports(brief.language):
        notes.append(f"the planner has no {brief.language!r} copy; it wrote English")
    notes.extend(brief_bank(brief).notes)
    for name in unknown_includes(brief):
        notes.append(f"observances.include {name!r} is not a known occasion; ignored")
    return {"postsPerWeekMode": brief.posts_per_week_mode, "postsPerWeek": cadence,
            "notes": notes}
