"""Versioned data tables the planner reads: best times, marketing days, the copy bank.

The JSON files live in `postplan/generation/data/` and ship inside the wheel (hatch includes
package files). They are loaded once per process; callers get immutable views.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from postplan.core.vocab import Channel, EntryFormat

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Window:
    """A local posting window on one weekday; slots start inside it."""

    start: dt.time
    end: dt.time
    primary: bool

    def contains(self, local: dt.time) -> bool:
        """Whether a local wall time lies inside this window (inclusive)."""
        return self.start <= local <= self.end


@dataclass(frozen=True)
class DayPlan:
    """One weekday of a channel: how much it is preferred, and its windows."""

    weight: int
    windows: tuple[Window, ...]


@dataclass(frozen=True)
class ChannelTable:
    """A channel's default cadence, target format mix and weekday plans."""

    default_posts_per_week: int
    format_mix: tuple[tuple[EntryFormat, int], ...]
    days: tuple[DayPlan, ...]  # indexed by date.weekday()


@dataclass(frozen=True)
class BestTimes:
    """The whole best-time table with its data version."""

    version: str
    channels: dict[Channel, ChannelTable]


def _load(name: str) -> dict[str, Any]:
    text = resources.files("postplan.generation").joinpath("data", name).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _time(value: str) -> dt.time:
    hour, minute = value.split(":")
    return dt.time(int(hour), int(minute))


@cache
def best_times() -> BestTimes:
    """The weighted best-time table (per channel and weekday), parsed once."""
    raw = _load("best_times.json")
    channels: dict[Channel, ChannelTable] = {}
    for name, table in raw["channels"].items():
        days = tuple(
            DayPlan(
                weight=int(table["days"][day]["dayWeight"]),
                windows=tuple(
                    Window(_time(w["start"]), _time(w["end"]), bool(w["primary"]))
                    for w in table["days"][day]["windows"]
                ),
            )
            for day in WEEKDAYS
        )
        mix = tuple((EntryFormat(f), int(w)) for f, w in table["formatMix"].items())
        channels[Channel(name)] = ChannelTable(int(table["defaultPostsPerWeek"]), mix, days)
    return BestTimes(str(raw["version"]), channels)


@cache
def marketing_days() -> dict[str, Any]:
    """The raw marketing-day table (rules are evaluated in `observances`)."""
    return _load("marketing_days.json")


@cache
def copy_bank() -> dict[str, Any]:
    """The raw copy template bank."""
    return _load("copy_bank.json")


@cache
def niche_table() -> dict[str, Any]:
    """The niche families and their keywords (generation/data/niches.json)."""
    return _load("niches.json")


@cache
def language_bank(language: str) -> dict[str, Any]:
    """One language's copy bank (generation/data/copy/<language>.json); `language` is one of
    `languages.SUPPORTED`."""
    return _load(f"copy/{language}.json")


@cache
def body_bank(language: str) -> dict[str, Any]:
    """One language's caption bodies, sub-niche topics and lines
    (generation/data/bodies/<language>.json) with its hashtag pools (data/tags/<language>.json)
    and the families' sub-niche files (data/subniches/<family>/<language>.json) merged in."""
    tags = _load(f"tags/{language}.json")
    bank = {**_load(f"bodies/{language}.json"),
            **{k: tags[k] for k in ("topicTags", "subTags", "moreTags")}}
    merged: dict[str, dict[str, Any]] = {k: dict(bank[k]) for k in SUB_KEYS}
    for family in sub_niche_families():
        part = _load(f"subniches/{family}/{language}.json")
        for key in SUB_KEYS:
            new = part.get(key, {})
            if clash := set(new) & set(merged[key]):  # a topic or bank named twice
                raise ValueError(f"subniches/{family}/{language}.json {key}: {sorted(clash)}")
            merged[key].update(new)
    return {**bank, **merged}


#: What a family's sub-niche file (data/subniches/<family>/<lang>.json) adds to a body bank.
SUB_KEYS = ("subTopics", "bodies", "lines", "subTags", "topicTags")


@cache
def sub_niche_families() -> tuple[str, ...]:
    """The families whose sub-niche banks live in their own files (data/subniches/<family>/),
    in name order."""
    root = resources.files("postplan.generation").joinpath("data", "subniches")
    return tuple(sorted(d.name for d in root.iterdir() if d.is_dir()))
