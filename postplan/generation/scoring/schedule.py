"""Checks on when posts go out: cadence, spread over the range, best times and time zones.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from itertools import pairwise
from typing import Any

from postplan.generation.planner.cadence import posts_per_week, week_share, week_targets
from postplan.generation.planner.data import best_times
from postplan.generation.planner.slots import EARLIEST, LATEST, MIN_GAP
from postplan.generation.planner.stats import entropy
from postplan.generation.schemas import Brief, EntryDraft
from postplan.generation.scoring.result import Check, Problems, is_aware, local_time, make_check

PRIMARY_SHARE_MIN = 0.60
ENTROPY_SHARE_MIN = 0.8


def check_cadence(
    brief: Brief, entries: Sequence[EntryDraft], *, zone: zoneinfo.ZoneInfo, partial: bool,
    **_: Any,
) -> Check:
    """Posts per week near the target, one a day, and a minimum gap between."""
    p = Problems()
    units = 0
    timed = [e for e in entries if is_aware(e)]
    for channel in brief.channels:
        mine = sorted((e for e in timed if e.channel == channel),
                      key=lambda e: e.scheduled_at.astimezone(dt.UTC))
        per_week = Counter(local_time(e, zone).isocalendar()[:2] for e in mine)
        for dates, _quota in week_targets(brief, channel):
            units += 1
            key = dates[0].isocalendar()[:2]
            target = week_share(brief, channel, dates)
            actual = per_week.get(key, 0)
            over = actual - target > 1 + 1e-9
            under = target - actual > 1 + 1e-9 and not partial
            if over or under:
                p.add(f"{channel.value} week {key[0]}-W{key[1]:02d}: {actual} posts, "
                      f"target {target:.2f}")
        days = Counter(local_time(e, zone).date() for e in mine)
        for day, n in sorted(days.items()):
            if n > 1:
                units += 1
                p.add(f"{channel.value}: {n} posts on {day}")
        for a, b in pairwise(mine):
            units += 1
            gap = b.scheduled_at.astimezone(dt.UTC) - a.scheduled_at.astimezone(dt.UTC)
            if gap < MIN_GAP:
                p.add(f"{channel.value}: only {gap} between {a.scheduled_at.isoformat()} "
                      f"and {b.scheduled_at.isoformat()}")
    return make_check("cadence", p, max(1, units))


def check_spread(
    brief: Brief, entries: Sequence[EntryDraft], *, zone: zoneinfo.ZoneInfo,
    today: dt.date | None, partial: bool, **_: Any,
) -> Check:
    """Dates within the brief's range and not past; every full week covered; weekdays varied."""
    p = Problems()
    first = brief.start_date
    last = first + dt.timedelta(days=brief.days - 1)
    timed = [e for e in entries if is_aware(e)]
    for i, e in enumerate(timed):
        day = local_time(e, zone).date()
        if not first <= day <= last:
            p.add(f"#{i}: {day} is outside {first}..{last}")
        if today is not None and day < today:
            p.add(f"#{i}: {day} is in the past (today {today})")
    entropies: dict[str, float] = {}
    for channel in brief.channels:
        mine = [e for e in timed if e.channel == channel]
        weeks = Counter(local_time(e, zone).isocalendar()[:2] for e in mine)
        if not partial:
            for dates, _q in week_targets(brief, channel):
                if len(dates) == 7 and not weeks.get(dates[0].isocalendar()[:2]):
                    p.add(f"{channel.value}: no post in the week of {dates[0]}")
        # Judged once there are two weeks' worth of posts; before that repeats are chance.
        possible = min(7, posts_per_week(brief, channel))
        if possible > 1 and len(mine) >= 2 * possible:
            h = entropy(Counter(local_time(e, zone).weekday() for e in mine).values())
            entropies[channel.value] = round(h / math.log(possible), 4)
            if h < ENTROPY_SHARE_MIN * math.log(possible) - 1e-9:
                p.add(f"{channel.value}: weekday entropy {h:.2f} below "
                      f"{ENTROPY_SHARE_MIN} x log({possible})")
    return make_check("spread", p, max(1, len(entries)), weekdayEntropy=entropies)


def check_best_time(
    brief: Brief, entries: Sequence[EntryDraft], *, zone: zoneinfo.ZoneInfo, **_: Any
) -> Check:
    """The share of posts in a primary best-time window."""
    timed = [e for e in entries if is_aware(e) and e.channel in best_times().channels]
    hits = 0
    for e in timed:
        local = local_time(e, zone)
        windows = best_times().channels[e.channel].days[local.weekday()].windows
        hits += any(w.primary and w.contains(local.time().replace(tzinfo=None)) for w in windows)
    share = hits / len(timed) if timed else 1.0
    p = Problems()
    if share < PRIMARY_SHARE_MIN:
        p.add(f"only {share:.0%} of posts sit in primary windows (want {PRIMARY_SHARE_MIN:.0%})")
    check = make_check("best_time", p, 1, primaryShare=round(share, 4))
    return replace(check, score=share)


def check_timezone(
    brief: Brief, entries: Sequence[EntryDraft], *, zone: zoneinfo.ZoneInfo, **_: Any
) -> Check:
    """Offsets match the brief's zone at each instant, no DST-gap times, local times within
    posting hours."""
    p = Problems()
    for i, e in enumerate(entries):
        when = e.scheduled_at
        if not is_aware(e):
            p.add(f"#{i}: scheduledAt has no UTC offset")
            continue
        if e.timezone != brief.timezone:
            p.add(f"#{i}: timezone {e.timezone!r}, brief says {brief.timezone!r}")
        local = local_time(e, zone)
        wall = when.replace(tzinfo=None)
        probe = wall.replace(tzinfo=zone)
        if probe.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != wall:
            p.add(f"#{i}: {wall} does not exist in {brief.timezone} (DST gap)")
        elif when.utcoffset() != local.utcoffset():
            p.add(f"#{i}: offset {when.utcoffset()} is not {brief.timezone}'s "
                  f"{local.utcoffset()} at that instant")
        if not EARLIEST <= local.time().replace(tzinfo=None) <= LATEST:
            p.add(f"#{i}: local time {local.time()} is outside {EARLIEST}-{LATEST}")
    return make_check("timezone", p, max(1, len(entries)))
