"""The deterministic offline planner: slots, copy, brief checks and the legacy calendar."""

from __future__ import annotations

from postplan.generation.planner.cadence import default_posts_per_week, posts_per_week
from postplan.generation.planner.checks import Problem, brief_problems, check_brief
from postplan.generation.planner.copywriter import write_entry
from postplan.generation.planner.languages import SUPPORTED as PLANNER_LANGUAGES
from postplan.generation.planner.languages import planner_supports
from postplan.generation.planner.legacy import legacy_entries
from postplan.generation.planner.notes import plan_notes
from postplan.generation.planner.offline import OfflinePlanner, plan_entries, warm_up
from postplan.generation.planner.pillars import default_pillars, pillar_weights
from postplan.generation.planner.seeding import PLANNER_VERSION
from postplan.generation.planner.slots import Slot, count_slots, plan_slots
from postplan.generation.planner.text import normalise_hook

__all__ = [
    "PLANNER_LANGUAGES",
    "PLANNER_VERSION",
    "OfflinePlanner",
    "Problem",
    "Slot",
    "brief_problems",
    "check_brief",
    "count_slots",
    "default_pillars",
    "default_posts_per_week",
    "legacy_entries",
    "normalise_hook",
    "pillar_weights",
    "plan_entries",
    "plan_notes",
    "plan_slots",
    "planner_supports",
    "posts_per_week",
    "warm_up",
    "write_entry",
]
