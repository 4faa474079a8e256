"""Slot planning: dates x cadence x best-time windows, DST-correct, then pillars and formats."""

from __future__ import annotations

import datetime as dt
import threading
import zoneinfo
from collections import OrderedDict
from dataclasses import dataclass, replace

from postplan.core.vocab import Channel, EntryFormat
from postplan.generation.brief_fields import WEEKDAYS
from postplan.generation.planner.cadence import (
    open_weekdays,
    week_targets,
    window_dates,
)
from postplan.generation.planner.data import ChannelTable, Window, best_times
from postplan.generation.planner.observances import (
    LEAD_DAYS,
    brief_observances,
    brief_solemn_days,
)
from postplan.generation.planner.pillars import (
    default_pillars,
    pillar_category,
    pillar_weights,
)
from postplan.generation.planner.seeding import brief_digest, canonical_brief_json, derived_rng
from postplan.generation.schemas import Brief, EntryDraft

UTC = dt.UTC
EARLIEST = dt.time(7, 0)
LATEST = dt.time(22, 0)
MIN_GAP = dt.timedelta(hours=12)
MAX_JITTER_MINUTES = 15
# At least this share of each channel's slots sits in its primary windows (scorer wants >= 60%).
PRIMARY_SHARE = (4, 5)


@dataclass(frozen=True)
class Slot:
    """One planned post: when, where, what kind, and about which pillar."""

    index: int
    channel: Channel
    format: EntryFormat
    scheduled_at: dt.datetime
    timezone: str
    pillar: str
    observance: str | None
    # The observance's own local date (same day as the slot or up to LEAD_DAYS later).
    observance_date: dt.date | None = None

    @property
    def utc(self) -> dt.datetime:
        """The slot's instant in UTC (aware datetimes sharing a tzinfo compare by wall time)."""
        return self.scheduled_at.astimezone(UTC)

    def draft(self, *, hook: str, caption: str, hashtags: list[str], call_to_action: str,
              asset_notes: str) -> EntryDraft:
        """The entry for this slot with the given copy (planner templates, repaired AI copy)."""
        return EntryDraft(
            channel=self.channel,
            format=self.format,
            scheduled_at=self.scheduled_at,
            timezone=self.timezone,
            pillar=self.pillar,
            hook=hook,
            caption=caption,
            hashtags=hashtags,
            call_to_action=call_to_action,
            asset_notes=asset_notes,
        )


def utc_key(value: dt.datetime) -> dt.datetime:
    """Sort key that orders aware datetimes by instant even when they share a ZoneInfo."""
    return value.astimezone(UTC)


def resolve_local(
    day: dt.date,
    at: dt.time,
    zone: zoneinfo.ZoneInfo,
    earliest: dt.time = EARLIEST,
    latest: dt.time = LATEST,
) -> dt.datetime | None:
    """The aware datetime for a wall time, DST-safe: a time in a spring-forward gap moves forward
    by the gap; an ambiguous (fall-back) time keeps fold=0, the earlier instant. None when the
    result leaves the day or the [earliest, latest] band (e.g. a date the zone skipped)."""
    local = dt.datetime.combine(day, at).replace(tzinfo=zone, fold=0)
    round_trip = local.astimezone(UTC).astimezone(zone)
    if round_trip.replace(tzinfo=None) != local.replace(tzinfo=None):
        local = round_trip  # nonexistent wall time
    if local.date() != day or not earliest <= local.time() <= latest:
        return None
    return local


def _user_windows(brief: Brief, channel: Channel, day: dt.date) -> list[Window] | None:
    """The brief's own windows for this channel and weekday (all primary), or None."""
    windows = (brief.posting_windows or {}).get(channel)
    if not windows:
        return None
    key = WEEKDAYS[day.weekday()]
    out = []
    for w in windows:
        if key in w.weekdays:
            start, end = w.times()
            out.append(Window(start, end, True))
    return sorted(out, key=lambda w: w.start)


def _choose_days(
    brief: Brief, channel: Channel, table: ChannelTable, tiebreak: dict[dt.date, float]
) -> list[dt.date]:
    chosen: set[dt.date] = set()
    weekdays = set(open_weekdays(brief, channel))
    closed = set(brief.closed_days or ())
    for dates, quota in week_targets(brief, channel):
        pool = [d for d in dates
                if WEEKDAYS[d.weekday()] in weekdays and d.isoformat() not in closed]
        for _ in range(min(quota, len(pool))):
            def key(day: dt.date) -> tuple[int, float]:
                adjacent = sum(
                    (day + dt.timedelta(days=d)) in chosen for d in (-1, 1)
                )
                return (-(table.days[day.weekday()].weight - 30 * adjacent), tiebreak[day])

            best = min(pool, key=key)
            pool.remove(best)
            chosen.add(best)
    return sorted(chosen)


def _round_up(value: dt.datetime, minutes: int = 5) -> dt.datetime:
    extra = (-value.minute) % minutes
    value = value.replace(second=0, microsecond=0)
    return value + dt.timedelta(minutes=extra)


def _channel_times(
    brief: Brief, channel: Channel, zone: zoneinfo.ZoneInfo, digest: bytes
) -> list[tuple[dt.datetime, bool]]:
    table = best_times().channels[channel]
    rng = derived_rng(digest, "times", channel.value)
    dates = window_dates(brief)
    tiebreak = {d: rng.random() for d in dates}
    out: list[tuple[dt.datetime, bool]] = []
    primary_count = 0
    for day in _choose_days(brief, channel, table, tiebreak):
        own = _user_windows(brief, channel, day)
        windows = tuple(own) if own else table.days[day.weekday()].windows
        # The brief's own windows may lie outside the default 07:00-22:00 band.
        earliest, latest = (own[0].start, max(w.end for w in own)) if own else (EARLIEST, LATEST)
        primaries = [w for w in windows if w.primary]
        secondaries = [w for w in windows if not w.primary]
        rng.shuffle(secondaries)
        n = len(out)
        use_secondary = bool(secondaries) and (
            PRIMARY_SHARE[1] * primary_count >= PRIMARY_SHARE[0] * (n + 1)
        )
        order: list[Window] = secondaries + primaries if use_secondary else primaries + secondaries
        minutes = rng.randrange(MAX_JITTER_MINUTES + 1)
        previous = out[-1][0] if out else None
        for window in order:
            span = (window.end.hour * 60 + window.end.minute) - (
                window.start.hour * 60 + window.start.minute)
            jitter = dt.timedelta(minutes=min(minutes, max(span, 0)))
            at = (dt.datetime.combine(day, window.start) + jitter).time()
            when = resolve_local(day, at, zone, earliest, latest)
            if when is None:
                continue
            if previous is not None and utc_key(when) - utc_key(previous) < MIN_GAP:
                # e.g. a Saturday-evening slot before a Sunday-morning one across a DST change
                later = _round_up((utc_key(previous) + MIN_GAP).astimezone(zone))
                when = resolve_local(day, later.time(), zone, earliest, latest)
                if when is None or utc_key(when) - utc_key(previous) < MIN_GAP:
                    continue
            is_primary = window.primary and window.contains(when.time())
            primary_count += is_primary
            out.append((when, is_primary))
            break
    return out


def _assign_pillars(brief: Brief, slots: list[Slot], digest: bytes) -> list[Slot]:
    pillars = default_pillars(brief)
    weights = pillar_weights(brief)
    total = sum(weights.values())
    rng = derived_rng(digest, "pillars")
    rank = {p: rng.random() for p in pillars}
    global_counts = dict.fromkeys(pillars, 0)
    per_channel: dict[Channel, dict[str, int]] = {}
    history: dict[Channel, list[str]] = {}
    out: list[Slot] = []
    dates = window_dates(brief)
    solemn = brief_solemn_days(brief, dates[0], dates[-1])
    promotional = {p for p in pillars if pillar_category(p) == "promotion"}
    calm = [p for p in pillars if p not in promotional]
    # Whether the channel's next slot falls on a solemn day (it must not be promotional).
    next_solemn: list[bool] = [False] * len(slots)
    upcoming: dict[Channel, bool] = {}
    # Slots from here to the end that may carry a promotion (not on a solemn day).
    open_left = [0] * (len(slots) + 1)
    for i in range(len(slots) - 1, -1, -1):
        next_solemn[i] = upcoming.get(slots[i].channel, False)
        upcoming[slots[i].channel] = slots[i].scheduled_at.date() in solemn
        open_left[i] = open_left[i + 1] + (slots[i].scheduled_at.date() not in solemn)
    for n, slot in enumerate(slots):
        counts = per_channel.setdefault(slot.channel, dict.fromkeys(pillars, 0))
        seen = history.setdefault(slot.channel, [])
        m = len(seen)
        candidates = [
            p for p in pillars
            if len(pillars) == 1 or not (len(seen) >= 2 and seen[-1] == seen[-2] == p)
        ]
        if slot.scheduled_at.date() in solemn:
            # No sales pitch on Good Friday, a memorial day and the like (when there is a choice).
            candidates = [p for p in candidates if p not in promotional] or candidates
        elif next_solemn[n] and len(calm) == 1 and seen and seen[-1] == calm[0]:
            # Keep the only non-promotional pillar free for tomorrow's solemn slot without
            # making it three in a row.
            candidates = [p for p in candidates if p != calm[0]] or candidates
        # A short calendar still shows every pillar: when the slots left are only just enough
        # for the pillars not used yet (for a promotion: the slots left off solemn days), one
        # of those comes now (a 5-post calendar whose last two days are Good Friday).
        missing = [p for p in candidates if not global_counts[p]]
        if len(pillars) <= len(slots) and missing:
            late = [p for p in missing if p in promotional]
            if late and slot.scheduled_at.date() not in solemn and open_left[n] <= len(late):
                candidates = late
            elif sum(not c for c in global_counts.values()) >= len(slots) - n:
                candidates = missing
        # Largest shortfall across the calendar, then on this channel, then a seeded order.
        choice = max(
            candidates,
            key=lambda p: (
                weights[p] * (n + 1) - global_counts[p] * total,
                weights[p] * (m + 1) - counts[p] * total,
                rank[p],
            ),
        )
        counts[choice] += 1
        global_counts[choice] += 1
        seen.append(choice)
        out.append(replace(slot, pillar=choice))
    return out


def _assign_formats(slots: list[Slot]) -> list[Slot]:
    mixes = {c: t.format_mix for c, t in best_times().channels.items()}
    counts: dict[Channel, dict[EntryFormat, int]] = {}
    out: list[Slot] = []
    for slot in slots:
        mix = mixes[slot.channel]
        total = sum(w for _, w in mix)
        c = counts.setdefault(slot.channel, {f: 0 for f, _ in mix})
        m = sum(c.values())
        # Largest deficit toward the target mix; ties go to the bigger share (listed first).
        choice = max(
            range(len(mix)),
            key=lambda i: (mix[i][1] * (m + 1) - c[mix[i][0]] * total, -i),
        )
        fmt = mix[choice][0]
        c[fmt] += 1
        out.append(replace(slot, format=fmt))
    return out


def _attach_observances(brief: Brief, slots: list[Slot]) -> list[Slot]:
    dates = window_dates(brief)
    table = brief_observances(brief, dates[0], dates[-1] + dt.timedelta(days=LEAD_DAYS))
    if not table:
        return slots
    # Each occasion (name and date) goes on at most one post per channel: the post on the day
    # itself when the channel has one, else the last post before it (within LEAD_DAYS).
    used: set[tuple[Channel, str, dt.date]] = set()
    posting_days = {(s.channel, s.scheduled_at.date()) for s in slots}
    usage: dict[str, int] = {}  # two occasions on one date: the less used one first
    out: list[Slot] = []
    for slot in slots:
        day = slot.scheduled_at.date()
        picked: tuple[str, dt.date] | None = None
        for lead in range(LEAD_DAYS + 1):
            target = day + dt.timedelta(days=lead)
            later = any((slot.channel, target - dt.timedelta(days=k)) in posting_days
                        for k in range(lead))
            if lead and later:
                continue  # a later post of this channel is closer to (or on) the day
            for name in sorted(table.get(target, ()), key=lambda n: usage.get(n, 0)):
                if (slot.channel, name, target) in used:
                    continue
                picked = (name, target)
                break
            if picked:
                break
        if picked:
            used.add((slot.channel, picked[0], picked[1]))
            usage[picked[0]] = usage.get(picked[0], 0) + 1
            out.append(replace(slot, observance=picked[0], observance_date=picked[1]))
        else:
            out.append(slot)
    return out


_CACHE: OrderedDict[str, tuple[Slot, ...]] = OrderedDict()
_CACHE_SIZE = 32  # the SSE path asks for count_slots and plan_slots of the same brief
_CACHE_LOCK = threading.Lock()


def plan_slots(brief: Brief) -> list[Slot]:
    """Every slot of the calendar, sorted by (scheduled_at, channel). Deterministic per brief."""
    key = canonical_brief_json(brief)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
            return list(cached)
    digest = brief_digest(brief)
    zone = zoneinfo.ZoneInfo(brief.timezone)
    raw: list[Slot] = []
    for channel in sorted(brief.channels, key=lambda c: c.value):
        first_format = best_times().channels[channel].format_mix[0][0]
        for when, _primary in _channel_times(brief, channel, zone, digest):
            raw.append(Slot(0, channel, first_format, when, brief.timezone, "", None))
    raw.sort(key=lambda s: (utc_key(s.scheduled_at), s.channel.value))
    raw = [replace(s, index=i) for i, s in enumerate(raw)]
    with_pillars = _assign_pillars(brief, raw, digest)
    planned = tuple(_attach_observances(brief, _assign_formats(with_pillars)))
    with _CACHE_LOCK:
        _CACHE[key] = planned
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return list(planned)


def count_slots(brief: Brief) -> int:
    """How many entries the planner makes for this brief."""
    return len(plan_slots(brief))
