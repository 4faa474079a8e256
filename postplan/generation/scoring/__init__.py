"""Calendar quality scorer: one check per dimension, each with pass/fail, a 0..1 score and details.

Used on planner output, AI output and partial (timed-out) output alike. Thresholds follow
docs/research.md, planning §5. Small calendars cannot hit proportional targets
exactly, so balance thresholds are widened by the best integer apportionment plus one post.

The checks live by subject in `content`, `balance` and `schedule`; `result` holds `Check`
and `CalendarScore`. `quality` is the copy-quality report (docs/quality.md): how good the words
are, as rates, with its own tables in `language`, `niches` and `occasions`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Sequence

from postplan.generation.schemas import Brief, EntryDraft
from postplan.generation.scoring.balance import (
    FORMAT_TV_MAX,
    PILLAR_RUN_MAX,
    PILLAR_TV_MAX,
    check_formats,
    check_pillars,
)
from postplan.generation.scoring.content import (
    HASHTAG_LIMITS,
    HASHTAG_SIMILAR_PAIRS_MAX,
    check_captions,
    check_channel_format,
    check_hashtags,
    check_hook_uniqueness,
    check_hooks,
    check_schema,
)
from postplan.generation.scoring.quality import QualityReport, quality_report
from postplan.generation.scoring.result import MAX_PROBLEMS, CalendarScore, Check, is_aware
from postplan.generation.scoring.schedule import (
    ENTROPY_SHARE_MIN,
    PRIMARY_SHARE_MIN,
    check_best_time,
    check_cadence,
    check_spread,
    check_timezone,
)

__all__ = [
    "ENTROPY_SHARE_MIN",
    "FORMAT_TV_MAX",
    "HASHTAG_LIMITS",
    "HASHTAG_SIMILAR_PAIRS_MAX",
    "MAX_PROBLEMS",
    "PILLAR_RUN_MAX",
    "PILLAR_TV_MAX",
    "PRIMARY_SHARE_MIN",
    "CalendarScore",
    "Check",
    "QualityReport",
    "quality_report",
    "score_calendar",
]

CHECKS: tuple[Callable[..., Check], ...] = (
    check_schema, check_channel_format, check_captions, check_hooks, check_hashtags,
    check_cadence, check_pillars, check_formats, check_hook_uniqueness, check_spread,
    check_best_time, check_timezone,
)


def score_calendar(
    brief: Brief,
    entries: Sequence[EntryDraft],
    today: dt.date | None = None,
    *,
    partial: bool = False,
) -> CalendarScore:
    """Score a calendar against its brief. `today` (injected, never the wall clock) flags past
    dates; `partial=True` (a timed-out run) does not count missing weeks or pillars against it."""
    zone = zoneinfo.ZoneInfo(brief.timezone)
    ordered = sorted(entries, key=lambda e: (
        e.scheduled_at.astimezone(dt.UTC) if is_aware(e)
        else dt.datetime.min.replace(tzinfo=dt.UTC),
        str(e.channel),
    ))
    checks = tuple(
        check(brief, ordered, zone=zone, today=today, partial=partial) for check in CHECKS
    )
    return CalendarScore(checks)
