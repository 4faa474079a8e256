"""Checks on the calendar's mix: pillar shares and runs, and each channel's format mix.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from postplan.core.vocab import Channel, EntryFormat
from postplan.generation.planner.data import best_times
from postplan.generation.planner.observances import solemn_days
from postplan.generation.planner.pillars import default_pillars, pillar_category, pillar_weights
from postplan.generation.planner.stats import ideal_tv_distance, tv_distance
from postplan.generation.schemas import Brief, EntryDraft
from postplan.generation.scoring.result import Check, Problems, is_aware, local_time, make_check

PILLAR_TV_MAX = 0.10
FORMAT_TV_MAX = 0.15
PILLAR_RUN_MAX = 2


def check_pillars(
    brief: Brief, entries: Sequence[EntryDraft], *, zone: zoneinfo.ZoneInfo, partial: bool,
    **_: Any,
) -> Check:
    """Pillar shares near their weights, no unknown or missing pillar, no promotion on a solemn
    day, no long run of one pillar."""
    p = Problems()
    pillars = default_pillars(brief)
    weights = pillar_weights(brief)
    total = sum(weights.values())
    target = {k: w / total for k, w in weights.items()}
    counts = Counter(e.pillar for e in entries)
    for name in sorted(set(counts) - set(pillars)):
        p.add(f"unknown pillar {name!r}")
    n = len(entries)
    tv = tv_distance(counts, target)
    limit = max(PILLAR_TV_MAX, ideal_tv_distance(target, n) + 1 / n) if n else PILLAR_TV_MAX
    if tv > limit + 1e-9:
        p.add(f"pillar shares are {tv:.3f} from target (limit {limit:.3f})")
    if not partial and n >= len(pillars):
        for name in pillars:
            if not counts.get(name):
                p.add(f"pillar {name!r} never appears")
    first = brief.start_date
    solemn = solemn_days(brief.country, first, first + dt.timedelta(days=brief.days - 1))
    for i, e in enumerate(entries):
        day = local_time(e, zone).date() if is_aware(e) else None
        if day in solemn and pillar_category(e.pillar) == "promotion" and len(pillars) > 1:
            p.add(f"#{i}: promotional post on {day} ({solemn[day]})")
    longest = 0
    if len(pillars) > 1:
        runs: dict[Channel, tuple[str, int]] = {}
        for e in entries:
            last, length = runs.get(e.channel, ("", 0))
            length = length + 1 if e.pillar == last else 1
            runs[e.channel] = (e.pillar, length)
            longest = max(longest, length)
        if longest > PILLAR_RUN_MAX:
            p.add(f"{longest} posts in a row share a pillar on one channel")
    check = make_check("pillar_balance", p, 1, tv=round(tv, 4), tvLimit=round(limit, 4),
                    longestRun=longest)
    # Score by closeness to the target shares; a failed check never scores above 0.5.
    score = 1.0 - tv if check.passed else min(0.5, 1.0 - tv)
    return replace(check, score=max(0.0, score))


def check_formats(brief: Brief, entries: Sequence[EntryDraft], **_: Any) -> Check:
    """Each channel's format mix near its target mix."""
    p = Problems()
    distances: dict[str, float] = {}
    worst = 0.0
    for channel in brief.channels:
        mine = [e for e in entries if e.channel == channel]
        if not mine:
            continue
        mix = best_times().channels[channel].format_mix
        total = sum(w for _, w in mix)
        target: dict[EntryFormat, float] = {f: w / total for f, w in mix}
        tv = tv_distance(Counter(e.format for e in mine), target)
        limit = max(FORMAT_TV_MAX, ideal_tv_distance(target, len(mine)) + 1 / len(mine))
        distances[channel.value] = round(tv, 4)
        worst = max(worst, tv)
        if tv > limit + 1e-9:
            p.add(f"{channel.value}: format mix is {tv:.3f} from target (limit {limit:.3f})")
    check = make_check("format_mix", p, 1, tv=distances)
    return replace(check, score=(1.0 - worst) if check.passed else 0.0)
