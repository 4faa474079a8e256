"""A calendar's cadence: its dates, each channel's posts per week, the days a channel may post
on, and how many posts each ISO week gets (the planner places them; the scorer checks them)."""

from __future__ import annotations

import datetime as dt
from itertools import groupby

from postplan.core.vocab import Channel
from postplan.generation.brief_fields import WEEKDAYS
from postplan.generation.planner.data import best_times
from postplan.generation.schemas import Brief

__all__ = ["default_posts_per_week", "iso_week", "open_weekdays", "posts_per_week",
           "week_share", "week_targets", "window_dates"]


def default_posts_per_week(channel: Channel) -> int:
    """docs/research.md, planning §3.2: TikTok 4/week (Buffer: 2-5/week gives most of the
    per-post gain); Instagram 3/week (Mosseri 2 feed posts/week, Hootsuite/Later 3-5/week)."""
    return best_times().channels[channel].default_posts_per_week


def posts_per_week(brief: Brief, channel: Channel) -> int:
    """The cadence the planner aims for on one channel."""
    defaults = {c: default_posts_per_week(c) for c in best_times().channels}
    return brief.posts_per_week_for(channel, defaults)


def window_dates(brief: Brief) -> list[dt.date]:
    """The local dates of the calendar window."""
    return [brief.start_date + dt.timedelta(days=i) for i in range(brief.days)]


def iso_week(day: dt.date) -> tuple[int, int]:
    """(ISO year, ISO week) of a local date."""
    year, week, _ = day.isocalendar()
    return (year, week)


def week_targets(brief: Brief, channel: Channel) -> list[tuple[list[dt.date], int]]:
    """Per ISO week: the window's dates in it and how many posts it gets. Cumulative
    half-up rounding keeps the total within one of `postsPerWeek * days / 7` and each week within
    one of its pro-rata target."""
    ppw = posts_per_week(brief, channel)
    # Posts go on open days only (closed days and windows): a week's share is its open days
    # over the open days of a full week, so a partial week of closed days gets none.
    open_days = set(open_weekdays(brief, channel)) or set(WEEKDAYS)
    closed = set(brief.closed_days or ())
    per_week = len(open_days)
    out: list[tuple[list[dt.date], int]] = []
    opens: list[int] = []
    elapsed = 0
    done = 0
    for _, group in groupby(window_dates(brief), key=iso_week):
        dates = list(group)
        n_open = sum(1 for d in dates if WEEKDAYS[d.weekday()] in open_days
                     and d.isoformat() not in closed)
        elapsed += n_open
        cumulative = (2 * ppw * elapsed + per_week) // (2 * per_week)
        out.append((dates, max(0, min(cumulative - done, n_open))))
        opens.append(n_open)
        done = cumulative
    if ppw > 0 and sum(q for _, q in out) == 0 and out:
        # A very short window still gets one post per channel, on a week with an open day.
        longest = max(range(len(out)), key=lambda i: (opens[i], -i))
        if opens[longest]:
            out[longest] = (out[longest][0], 1)
    return out


def week_share(brief: Brief, channel: Channel, dates: list[dt.date]) -> float:
    """The pro-rata posts a week of `dates` should get: `postsPerWeek` times its open days
    over the open days of a full week (what `week_targets` rounds)."""
    open_days = set(open_weekdays(brief, channel)) or set(WEEKDAYS)
    closed = set(brief.closed_days or ())
    n_open = sum(1 for d in dates if WEEKDAYS[d.weekday()] in open_days
                 and d.isoformat() not in closed)
    return posts_per_week(brief, channel) * n_open / len(open_days)


def open_weekdays(brief: Brief, channel: Channel) -> list[str]:
    """Weekday keys ('mon'..) on which a channel may post: its posting windows' weekdays (all
    when it has none) less the closed weekdays."""
    closed = set(brief.closed_days or ())
    windows = (brief.posting_windows or {}).get(channel)
    allowed = {d for w in windows for d in w.weekdays} if windows else set(WEEKDAYS)
    return [d for d in WEEKDAYS if d in allowed and d not in closed]
