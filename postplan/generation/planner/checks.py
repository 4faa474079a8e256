"""Brief problems a schema cannot see (need the planner's arithmetic): each becomes a 422.

Every problem carries a stable `code` (docs/contract-notes.md) so a client can tell them apart.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from postplan.core.validators import EARLIEST_DATE, LATEST_DATE
from postplan.generation.brief_fields import WEEKDAYS
from postplan.generation.planner.cadence import open_weekdays, posts_per_week
from postplan.generation.planner.languages import SUPPORTED, planner_supports
from postplan.generation.planner.observances import region_problem, supported_country
from postplan.generation.planner.pillars import default_pillars
from postplan.generation.planner.slots import count_slots
from postplan.generation.schemas import Brief

MAX_POSTS_PER_WEEK = 7  # at most one post per channel per day
FIRST_DATE = EARLIEST_DATE
LAST_DATE = LATEST_DATE


class Problem(NamedTuple):
    """One reason a brief cannot be planned: the camelCase field, a message, a stable code."""

    field: str
    message: str
    code: str


def brief_problems(brief: Brief, *, model_available: bool = False) -> list[Problem]:
    """Problems that make the brief unplannable; empty means it is fine. With a model available
    any language is accepted (the model writes it); otherwise only the planner's languages."""
    problems: list[Problem] = []
    end = brief.start_date + dt.timedelta(days=brief.days - 1) if brief.start_date < LAST_DATE \
        else brief.start_date
    if brief.start_date < FIRST_DATE or end > LAST_DATE:
        problems.append(Problem(
            "startDate", f"the calendar must lie between {FIRST_DATE} and {LAST_DATE}",
            "validation_failed"))
    if not model_available and not planner_supports(brief.language):
        problems.append(Problem(
            "language", f"the planner writes {', '.join(SUPPORTED)}; no model is configured "
                        f"for {brief.language!r}", "language_unsupported"))
    if brief.country is not None and not supported_country(brief.country):
        problems.append(Problem("country", f"no holiday data for country {brief.country!r}",
                                "validation_failed"))
    region = region_problem(brief)
    if region:
        problems.append(Problem("observances.region", region, "region_not_in_country"))
    closed = set(brief.closed_days or ())
    if closed >= set(WEEKDAYS):
        problems.append(Problem("closedDays", "every weekday is closed", "closed_days_conflict"))
    for channel in brief.channels:
        days = open_weekdays(brief, channel)
        windows = (brief.posting_windows or {}).get(channel)
        if windows and not days and not closed >= set(WEEKDAYS):
            named = sorted({d for w in windows for d in w.weekdays}, key=WEEKDAYS.index)
            problems.append(Problem(
                "postingWindows", f"{channel.value}: every window's weekday is closed "
                                  f"({', '.join(named)} are in closedDays)",
                "windows_closed_days_conflict"))
            continue
        ppw = posts_per_week(brief, channel)
        if ppw > MAX_POSTS_PER_WEEK:
            problems.append(Problem(
                "postsPerWeek", f"{channel.value}: at most {MAX_POSTS_PER_WEEK} posts per week "
                                f"(one a day), got {ppw}", "validation_failed"))
        elif days and ppw > len(days):
            problems.append(Problem(
                "postsPerWeek", f"{channel.value}: {ppw} posts a week do not fit the "
                                f"{len(days)} open posting day(s) ({', '.join(days)}); one post "
                                f"per channel per day", "posts_per_week_unfittable"))
    if problems:
        return problems
    slots = count_slots(brief)
    if slots == 0:
        first, last = brief.start_date, brief.start_date + dt.timedelta(days=brief.days - 1)
        problems.append(Problem(
            "closedDays" if brief.closed_days else "postingWindows",
            f"no day from {first} to {last} is open for posting: each falls on a closed day or "
            "outside every posting window; widen the dates or open a day",
            "closed_days_conflict"))
        return problems
    pillars = default_pillars(brief)
    # An empty list means "no pillars of my own", as null does: the defaults are never "too many".
    if brief.pillars and len(pillars) > slots:
        problems.append(Problem("pillars", f"more pillars ({len(pillars)}) than slots ({slots})",
                                "validation_failed"))
    return problems


def check_brief(brief: Brief, *, model_available: bool = False) -> list[tuple[str, str]]:
    """[(field, message)] of `brief_problems` (the CLI and older callers)."""
    return [(p.field, p.message) for p in brief_problems(brief, model_available=model_available)]
