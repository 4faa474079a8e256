"""Calendar quality scorer: one check per dimension, each with pass/fail, a 0..1 score and details.

Used on planner output, AI output and partial (timed-out) output alike. Thresholds follow
`shared/reference/planning-and-generation.md` §5. Small calendars cannot hit proportional targets
exactly, so balance thresholds are widened by the best integer apportionment plus one post.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

from pydantic import ValidationError

from postplan.core.vocab import FORMATS_BY_CHANNEL, Channel, EntryFormat
from postplan.generation.planner.data import best_times
from postplan.generation.planner.observances import solemn_days
from postplan.generation.planner.pillars import default_pillars, pillar_category, pillar_weights
from postplan.generation.planner.slots import (
    EARLIEST,
    LATEST,
    MIN_GAP,
    posts_per_week,
    week_targets,
)
from postplan.generation.planner.stats import entropy, ideal_tv_distance, tv_distance
from postplan.generation.planner.text import (
    ASSET_NOTES_LIMIT,
    CAPTION_MAX,
    CTA_LIMIT,
    HOOK_MAX,
    NEAR_DUPLICATE,
    is_valid_hashtag,
    normalise_hook,
    token_set_similarity,
    tokens,
    utf16_len,
)
from postplan.generation.schemas import Brief, EntryDraft

PILLAR_TV_MAX = 0.10
FORMAT_TV_MAX = 0.15
PILLAR_RUN_MAX = 2
PRIMARY_SHARE_MIN = 0.60
ENTROPY_SHARE_MIN = 0.8
HASHTAG_LIMITS: dict[Channel, tuple[int, int]] = {
    Channel.instagram: (0, 5),  # hard cap since Dec 2025
    Channel.tiktok: (3, 5),
}
HASHTAG_SIMILAR_PAIRS_MAX = 0.05  # share of consecutive same-channel posts with near-equal tags
MAX_PROBLEMS = 20  # details keep the first few problems of each check


@dataclass(frozen=True)
class Check:
    """One dimension's verdict."""

    name: str
    passed: bool
    score: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CalendarScore:
    """All checks; `passed` only when every check passed, `overall` the mean score."""

    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def overall(self) -> float:
        return sum(c.score for c in self.checks) / len(self.checks) if self.checks else 0.0

    @property
    def failed(self) -> list[str]:
        """Names of the checks that failed."""
        return [c.name for c in self.checks if not c.passed]

    def check(self, name: str) -> Check:
        """The check with this name (KeyError if there is none)."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (CLI, logs, benchmark output)."""
        return {
            "passed": self.passed,
            "overall": round(self.overall, 4),
            "checks": {
                c.name: {"passed": c.passed, "score": round(c.score, 4), **c.details}
                for c in self.checks
            },
        }


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.count = 0

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(message)


def _result(name: str, problems: _Problems, units: int, **metrics: Any) -> Check:
    score = 1.0 - min(1.0, problems.count / units) if units else 1.0
    return Check(name, problems.count == 0, score,
                 {"problems": problems.items, "problemCount": problems.count, **metrics})


def _aware(e: EntryDraft) -> bool:
    return isinstance(e.scheduled_at, dt.datetime) and e.scheduled_at.utcoffset() is not None


def _local(e: EntryDraft, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    # Via UTC: astimezone() to the datetime's own tzinfo returns it unchanged, gap times included.
    return e.scheduled_at.astimezone(dt.UTC).astimezone(zone)


def _check_schema(brief: Brief, entries: Sequence[EntryDraft], **_: Any) -> Check:
    p = _Problems()
    if not entries:
        p.add("the calendar has no entries")
    for i, e in enumerate(entries):
        try:
            EntryDraft.model_validate(e.model_dump())
        except ValidationError as exc:
            p.add(f"#{i}: {exc.errors()[0]['msg']}")
            continue
        if e.channel not in brief.channels:
            p.add(f"#{i}: channel {e.channel} is not in the brief")
        for name in ("hook", "caption", "call_to_action", "asset_notes", "pillar"):
            if not str(getattr(e, name)).strip():
                p.add(f"#{i}: {name} is empty")
    return _result("schema", p, max(1, len(entries)))


def _check_channel_format(brief: Brief, entries: Sequence[EntryDraft], **_: Any) -> Check:
    p = _Problems()
    for i, e in enumerate(entries):
        if e.format not in FORMATS_BY_CHANNEL.get(e.channel, ()):
            p.add(f"#{i}: format {e.format} is not available on {e.channel}")
    return _result("channel_format", p, len(entries))


def _check_captions(brief: Brief, entries: Sequence[EntryDraft], **_: Any) -> Check:
    p = _Problems()
    for i, e in enumerate(entries):
        # What gets published: the caption plus " #tag" per hashtag (TikTok counts them toward
        # its limit, in UTF-16 units; Instagram's 2,200 covers the same text).
        text = e.caption + "".join(f" #{t}" for t in e.hashtags)
        size = utf16_len(text) if e.channel == Channel.tiktok else len(text)
        if size > CAPTION_MAX:
            p.add(f"#{i}: caption with hashtags is {size} long, limit {CAPTION_MAX}")
        if not e.call_to_action.strip():
            p.add(f"#{i}: no call to action")
        elif len(e.call_to_action) > CTA_LIMIT:
            p.add(f"#{i}: call to action is {len(e.call_to_action)} long, limit {CTA_LIMIT}")
        if len(e.asset_notes) > ASSET_NOTES_LIMIT:
            p.add(f"#{i}: asset notes are {len(e.asset_notes)} long, limit {ASSET_NOTES_LIMIT}")
    return _result("captions", p, len(entries))


def _check_hooks(brief: Brief, entries: Sequence[EntryDraft], **_: Any) -> Check:
    p = _Problems()
    for i, e in enumerate(entries):
        if not e.hook.strip():
            p.add(f"#{i}: empty hook")
        elif len(e.hook) > HOOK_MAX:
            p.add(f"#{i}: hook is {len(e.hook)} characters, limit {HOOK_MAX}")
        elif "\n" in e.hook:
            p.add(f"#{i}: hook spans several lines")
    return _result("hooks", p, len(entries))


def _check_hashtags(brief: Brief, entries: Sequence[EntryDraft], **_: Any) -> Check:
    p = _Problems()
    for i, e in enumerate(entries):
        low, high = HASHTAG_LIMITS.get(e.channel, (0, 5))
        if not low <= len(e.hashtags) <= high:
            p.add(f"#{i}: {len(e.hashtags)} hashtags on {e.channel}, want {low}-{high}")
        bad = [t for t in e.hashtags if not is_valid_hashtag(t)]
        if bad:
            p.add(f"#{i}: malformed hashtags {bad} (no '#', word characters only)")
        if len({t.casefold() for t in e.hashtags}) != len(e.hashtags):
            p.add(f"#{i}: repeated hashtag")
    similar = pairs = 0
    by_channel: dict[Channel, list[EntryDraft]] = defaultdict(list)
    for e in entries:
        by_channel[e.channel].append(e)
    for items in by_channel.values():
        for a, b in pairwise(items):
            pairs += 1
            sa, sb = {t.casefold() for t in a.hashtags}, {t.casefold() for t in b.hashtags}
            if sa and sb and len(sa & sb) / len(sa | sb) > 0.8:
                similar += 1
    if pairs and similar > max(1, HASHTAG_SIMILAR_PAIRS_MAX * pairs):
        p.add(f"{similar} of {pairs} consecutive posts reuse nearly the same hashtags")
    return _result("hashtags", p, max(1, len(entries)), similarPairs=similar)


def _check_cadence(
    brief: Brief, entries: Sequence[EntryDraft], *, zone: zoneinfo.ZoneInfo, partial: bool,
    **_: Any,
) -> Check:
    p = _Problems()
    units = 0
    timed = [e for e in entries if _aware(e)]
    for channel in brief.channels:
        mine = sorted((e for e in timed if e.channel == channel),
                      key=lambda e: e.scheduled_at.astimezone(dt.UTC))
        per_week = Counter(_local(e, zone).isocalendar()[:2] for e in mine)
        ppw = posts_per_week(brief, channel)
        for dates, _quota in week_targets(brief, channel):
            units += 1
            key = dates[0].isocalendar()[:2]
            target = ppw * len(dates) / 7
            actual = per_week.get(key, 0)
            over = actual - target > 1 + 1e-9
            under = target - actual > 1 + 1e-9 and not partial
            if over or under:
                p.add(f"{channel.value} week {key[0]}-W{key[1]:02d}: {actual} posts, "
                      f"target {target:.2f}")
        days = Counter(_local(e, zone).date() for e in mine)
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
    return _result("cadence", p, max(1, units))


def _check_pillars(
    brief: Brief, entries: Sequence[EntryDraft], *, zone: zoneinfo.ZoneInfo, partial: bool,
    **_: Any,
) -> Check:
    p = _Problems()
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
        day = _local(e, zone).date() if _aware(e) else None
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
    check = _result("pillar_balance", p, 1, tv=round(tv, 4), tvLimit=round(limit, 4),
                    longestRun=longest)
    # Score by closeness to the target shares; a failed check never scores above 0.5.
    score = 1.0 - tv if check.passed else min(0.5, 1.0 - tv)
    return replace(check, score=max(0.0, score))


def _check_formats(brief: Brief, entries: Sequence[EntryDraft], **_: Any) -> Check:
    p = _Problems()
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
    check = _result("format_mix", p, 1, tv=distances)
    return replace(check, score=(1.0 - worst) if check.passed else 0.0)


def _check_hook_uniqueness(brief: Brief, entries: Sequence[EntryDraft], **_: Any) -> Check:
    p = _Problems()
    normal = [normalise_hook(e.hook) for e in entries]
    seen: dict[str, int] = {}
    for i, h in enumerate(normal):
        if h in seen:
            p.add(f"#{i} repeats the hook of #{seen[h]}: {entries[i].hook!r}")
        else:
            seen[h] = i
    unique = list(seen.items())
    sets = [tokens(h) for h, _ in unique]
    near = 0
    for a in range(len(unique)):
        for b in range(a + 1, len(unique)):
            if token_set_similarity(sets[a], sets[b]) >= NEAR_DUPLICATE:
                near += 1
                p.add(f"#{unique[b][1]} nearly repeats #{unique[a][1]}: "
                      f"{entries[unique[b][1]].hook!r}")
    bigrams = [tuple(h.split()[k:k + 2]) for h in normal for k in range(len(h.split()) - 1)]
    distinct2 = len(set(bigrams)) / len(bigrams) if bigrams else 1.0
    return _result("hook_uniqueness", p, max(1, len(entries)), nearDuplicates=near,
                   distinct2=round(distinct2, 4))


def _check_spread(
    brief: Brief, entries: Sequence[EntryDraft], *, zone: zoneinfo.ZoneInfo,
    today: dt.date | None, partial: bool, **_: Any,
) -> Check:
    p = _Problems()
    first = brief.start_date
    last = first + dt.timedelta(days=brief.days - 1)
    timed = [e for e in entries if _aware(e)]
    for i, e in enumerate(timed):
        day = _local(e, zone).date()
        if not first <= day <= last:
            p.add(f"#{i}: {day} is outside {first}..{last}")
        if today is not None and day < today:
            p.add(f"#{i}: {day} is in the past (today {today})")
    entropies: dict[str, float] = {}
    for channel in brief.channels:
        mine = [e for e in timed if e.channel == channel]
        weeks = Counter(_local(e, zone).isocalendar()[:2] for e in mine)
        if not partial:
            for dates, _q in week_targets(brief, channel):
                if len(dates) == 7 and not weeks.get(dates[0].isocalendar()[:2]):
                    p.add(f"{channel.value}: no post in the week of {dates[0]}")
        # Judged once there are two weeks' worth of posts; before that repeats are chance.
        possible = min(7, posts_per_week(brief, channel))
        if possible > 1 and len(mine) >= 2 * possible:
            h = entropy(Counter(_local(e, zone).weekday() for e in mine).values())
            entropies[channel.value] = round(h / math.log(possible), 4)
            if h < ENTROPY_SHARE_MIN * math.log(possible) - 1e-9:
                p.add(f"{channel.value}: weekday entropy {h:.2f} below "
                      f"{ENTROPY_SHARE_MIN} x log({possible})")
    return _result("spread", p, max(1, len(entries)), weekdayEntropy=entropies)


def _check_best_time(
    brief: Brief, entries: Sequence[EntryDraft], *, zone: zoneinfo.ZoneInfo, **_: Any
) -> Check:
    timed = [e for e in entries if _aware(e) and e.channel in best_times().channels]
    hits = 0
    for e in timed:
        local = _local(e, zone)
        windows = best_times().channels[e.channel].days[local.weekday()].windows
        hits += any(w.primary and w.contains(local.time().replace(tzinfo=None)) for w in windows)
    share = hits / len(timed) if timed else 1.0
    p = _Problems()
    if share < PRIMARY_SHARE_MIN:
        p.add(f"only {share:.0%} of posts sit in primary windows (want {PRIMARY_SHARE_MIN:.0%})")
    check = _result("best_time", p, 1, primaryShare=round(share, 4))
    return replace(check, score=share)


def _check_timezone(
    brief: Brief, entries: Sequence[EntryDraft], *, zone: zoneinfo.ZoneInfo, **_: Any
) -> Check:
    p = _Problems()
    for i, e in enumerate(entries):
        when = e.scheduled_at
        if not _aware(e):
            p.add(f"#{i}: scheduledAt has no UTC offset")
            continue
        if e.timezone != brief.timezone:
            p.add(f"#{i}: timezone {e.timezone!r}, brief says {brief.timezone!r}")
        local = _local(e, zone)
        wall = when.replace(tzinfo=None)
        probe = wall.replace(tzinfo=zone)
        if probe.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != wall:
            p.add(f"#{i}: {wall} does not exist in {brief.timezone} (DST gap)")
        elif when.utcoffset() != local.utcoffset():
            p.add(f"#{i}: offset {when.utcoffset()} is not {brief.timezone}'s "
                  f"{local.utcoffset()} at that instant")
        if not EARLIEST <= local.time().replace(tzinfo=None) <= LATEST:
            p.add(f"#{i}: local time {local.time()} is outside {EARLIEST}-{LATEST}")
    return _result("timezone", p, max(1, len(entries)))


_CHECKS: tuple[Callable[..., Check], ...] = (
    _check_schema, _check_channel_format, _check_captions, _check_hooks, _check_hashtags,
    _check_cadence, _check_pillars, _check_formats, _check_hook_uniqueness, _check_spread,
    _check_best_time, _check_timezone,
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
        e.scheduled_at.astimezone(dt.UTC) if _aware(e) else dt.datetime.min.replace(tzinfo=dt.UTC),
        str(e.channel),
    ))
    checks = tuple(
        check(brief, ordered, zone=zone, today=today, partial=partial) for check in _CHECKS
    )
    return CalendarScore(checks)
