"""Brief problems a schema cannot see (need the planner's arithmetic): each becomes a 422."""

from __future__ import annotations

import datetime as dt

from postplan.core.validators import EARLIEST_DATE, LATEST_DATE
from postplan.generation.planner.observances import supported_country
from postplan.generation.planner.pillars import default_pillars
from postplan.generation.planner.slots import count_slots, posts_per_week
from postplan.generation.schemas import Brief

MAX_POSTS_PER_WEEK = 7  # at most one post per channel per day
FIRST_DATE = EARLIEST_DATE
LAST_DATE = LATEST_DATE


def check_brief(brief: Brief) -> list[tuple[str, str]]:
    """[(field, message)] for problems that make the brief unplannable; empty means it is fine.
    Field names are the camelCase wire names."""
    problems: list[tuple[str, str]] = []
    end = brief.start_date + dt.timedelta(days=brief.days - 1) if brief.start_date < LAST_DATE \
        else brief.start_date
    if brief.start_date < FIRST_DATE or end > LAST_DATE:
        problems.append(
            ("startDate", f"the calendar must lie between {FIRST_DATE} and {LAST_DATE}")
        )
    for channel in brief.channels:
        ppw = posts_per_week(brief, channel)
        if ppw > MAX_POSTS_PER_WEEK:
            problems.append(
                ("postsPerWeek", f"{channel.value}: at most {MAX_POSTS_PER_WEEK} posts per week "
                                 f"(one a day), got {ppw}")
            )
    if brief.country is not None and not supported_country(brief.country):
        problems.append(("country", f"no holiday data for country {brief.country!r}"))
    if problems:
        return problems
    slots = count_slots(brief)
    pillars = default_pillars(brief)
    # An empty list means "no pillars of my own", as null does: the defaults are never "too many".
    if brief.pillars and len(pillars) > slots:
        problems.append(("pillars", f"more pillars ({len(pillars)}) than slots ({slots})"))
    return problems
