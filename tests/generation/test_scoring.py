"""The scorer passes good calendars and each of its checks can fail."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

import pytest

from postplan.core.vocab import Channel, EntryFormat
from postplan.generation.planner import legacy_entries
from postplan.generation.schemas import EntryDraft
from postplan.generation.scoring import CalendarScore, score_calendar
from tests.generation.helpers import each, entries_for, make_brief

BRIEF = make_brief(days=28, postsPerWeek=each(4))
GOOD = entries_for(BRIEF)
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
GOOD_FRIDAY_BRIEF = make_brief(country="DE", startDate="2026-03-30", days=14, postsPerWeek=each(7))
CHECKS = ["schema", "channel_format", "captions", "hooks", "hashtags", "cadence",
          "pillar_balance", "format_mix", "hook_uniqueness", "spread", "best_time", "timezone"]


def _first(channel: Channel) -> int:
    return next(i for i, e in enumerate(GOOD) if e.channel == channel)


def _with(i: int, **update: object) -> list[EntryDraft]:
    entries = list(GOOD)
    entries[i] = entries[i].model_copy(update=update)
    return entries


def _all(**update: object) -> list[EntryDraft]:
    return [e.model_copy(update=update) for e in GOOD]


def _shift_time(e: EntryDraft, at: dt.time) -> EntryDraft:
    local = dt.datetime.combine(e.scheduled_at.date(), at, tzinfo=BERLIN)
    return e.model_copy(update={"scheduled_at": local})


def test_good_calendar_passes_every_check() -> None:
    score = score_calendar(BRIEF, GOOD, today=BRIEF.start_date)
    assert [c.name for c in score.checks] == CHECKS
    assert score.passed, score.as_dict()
    assert 0.9 < score.overall <= 1.0


def _two_posts_same_day() -> list[EntryDraft]:
    i = _first(Channel.tiktok)
    extra = GOOD[i].model_copy(update={
        "scheduled_at": GOOD[i].scheduled_at + dt.timedelta(hours=3), "hook": "Another hook here",
    })
    return [*GOOD, extra]


def _min_gap() -> list[EntryDraft]:
    tiktok = [i for i, e in enumerate(GOOD) if e.channel == Channel.tiktok]
    entries = list(GOOD)
    a, b = tiktok[0], tiktok[1]
    entries[a] = _shift_time(entries[a], dt.time(21, 30))
    day_after = entries[a].scheduled_at.date() + dt.timedelta(days=1)
    entries[b] = entries[b].model_copy(update={
        "scheduled_at": dt.datetime.combine(day_after, dt.time(7, 30), tzinfo=BERLIN)})
    return entries


def _wrong_offset() -> list[EntryDraft]:
    e = GOOD[0]
    fixed = e.scheduled_at.replace(tzinfo=dt.timezone(dt.timedelta(hours=5)))
    return _with(0, scheduled_at=fixed)


def _nonexistent_time() -> list[EntryDraft]:
    brief = make_brief(startDate="2026-03-23", days=14)
    entries = entries_for(brief)
    gap = dt.datetime(2026, 3, 29, 2, 30, tzinfo=BERLIN)
    entries[0] = entries[0].model_copy(update={"scheduled_at": gap})
    return entries


def _naive() -> list[EntryDraft]:
    data = dict(GOOD[0])
    data["scheduled_at"] = GOOD[0].scheduled_at.replace(tzinfo=None)
    return [EntryDraft.model_construct(**data), *GOOD[1:]]


def _wrong_format() -> list[EntryDraft]:
    i = _first(Channel.tiktok)
    data = dict(GOOD[i])
    data["format"] = EntryFormat.reel
    entries = list(GOOD)
    entries[i] = EntryDraft.model_construct(**data)
    return entries


def _same_weekday() -> list[EntryDraft]:
    # every TikTok post moved to the Wednesday of its week
    return [e.model_copy(update={"scheduled_at": e.scheduled_at + dt.timedelta(
        days=2 - e.scheduled_at.weekday())}) if e.channel == Channel.tiktok else e for e in GOOD]


def _promotion_on_good_friday() -> list[EntryDraft]:
    entries = entries_for(GOOD_FRIDAY_BRIEF)
    i = next(i for i, e in enumerate(entries) if e.scheduled_at.date() == dt.date(2026, 4, 3))
    entries[i] = entries[i].model_copy(update={"pillar": "promotion"})
    return entries


def _near_duplicate() -> list[EntryDraft]:
    return _with(1, hook=GOOD[0].hook + " today")


BREAKERS: list[tuple[str, Callable[[], list[EntryDraft]], str]] = [
    ("schema", lambda: _with(0, call_to_action="  "), "call_to_action is empty"),
    ("schema", lambda: [], "no entries"),
    ("schema", _naive, "scheduledAt"),
    ("channel_format", _wrong_format, "not available on tiktok"),
    ("captions", lambda: _with(0, caption="x" * 2201), "limit 2200"),
    ("captions", lambda: _with(_first(Channel.tiktok), caption="😀" * 1101), "limit 2200"),
    ("hooks", lambda: _with(0, hook="x" * 101), "limit 100"),
    ("hashtags", lambda: _with(_first(Channel.instagram),
                               hashtags=["a", "b", "c", "d", "e", "f"]), "6 hashtags"),
    ("hashtags", lambda: _with(_first(Channel.tiktok), hashtags=["only", "two"]), "want 3-5"),
    ("hashtags", lambda: _with(0, hashtags=["#coffee", "ok", "fine"]), "malformed"),
    ("hashtags", lambda: _with(0, hashtags=["same", "Same", "other"]), "repeated"),
    ("hashtags", lambda: _all(hashtags=["one", "two", "three"]), "nearly the same"),
    ("cadence", _two_posts_same_day, "2 posts on"),
    ("cadence", _min_gap, "only 10:00:00 between"),
    ("cadence", lambda: GOOD[: len(GOOD) // 2], "target 4.00"),
    ("pillar_balance", lambda: _all(pillar="education"), "from target"),
    ("pillar_balance", lambda: _with(0, pillar="gossip"), "unknown pillar"),
    ("pillar_balance", _promotion_on_good_friday, "promotional post on 2026-04-03"),
    ("format_mix", lambda: [e.model_copy(update={"format": EntryFormat.story})
                            if e.channel == Channel.instagram else e for e in GOOD],
     "format mix"),
    ("hook_uniqueness", lambda: _with(1, hook=GOOD[0].hook.upper() + "!!"), "repeats the hook"),
    ("hook_uniqueness", _near_duplicate, "nearly repeats"),
    ("spread", lambda: _with(len(GOOD) - 1, scheduled_at=GOOD[-1].scheduled_at
                             + dt.timedelta(days=7)), "outside"),
    ("spread", _same_weekday, "weekday entropy"),
    ("best_time", lambda: [_shift_time(e, dt.time(7, 5)) for e in GOOD], "primary windows"),
    ("timezone", _wrong_offset, "is not Europe/Berlin's"),
    ("timezone", _nonexistent_time, "does not exist"),
    ("timezone", lambda: [_shift_time(e, dt.time(23, 0)) if i == 0 else e
                          for i, e in enumerate(GOOD)], "outside 07:00:00-22:00:00"),
    ("timezone", lambda: _with(0, timezone="Europe/Paris"), "brief says"),
]


@pytest.mark.parametrize(("check", "build", "message"), BREAKERS,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(BREAKERS)])
def test_each_check_can_fail(check: str, build: Callable[[], list[EntryDraft]],
                             message: str) -> None:
    brief = {_nonexistent_time: make_brief(startDate="2026-03-23", days=14),
             _promotion_on_good_friday: GOOD_FRIDAY_BRIEF}.get(build, BRIEF)
    score = score_calendar(brief, build())
    assert not score.passed
    result = score.check(check)
    assert not result.passed
    assert result.score < 1.0
    assert any(message in p for p in result.details["problems"]), result.details


def test_every_check_has_a_breaker() -> None:
    assert {c for c, _, _ in BREAKERS} == set(CHECKS)


def test_past_dates_fail_with_injected_today() -> None:
    score = score_calendar(BRIEF, GOOD, today=BRIEF.start_date + dt.timedelta(days=3))
    assert not score.check("spread").passed
    assert "in the past" in score.check("spread").details["problems"][0]


def test_partial_prefix_passes_in_partial_mode() -> None:
    prefix = GOOD[: len(GOOD) // 3]
    assert not score_calendar(BRIEF, prefix).passed
    assert score_calendar(BRIEF, prefix, partial=True).passed


def test_score_is_serialisable() -> None:
    data = score_calendar(BRIEF, GOOD).as_dict()
    assert data["passed"] is True and set(data["checks"]) == set(CHECKS)
    assert isinstance(score_calendar(BRIEF, GOOD), CalendarScore)


def test_legacy_calendar_is_within_limits() -> None:
    brief = make_brief(brand='"Ünïcode" 🚀 עברית', days=30)
    score = score_calendar(brief, legacy_entries(brief))
    for name in ("schema", "channel_format", "captions", "hooks", "hashtags",
                 "hook_uniqueness", "timezone", "cadence"):
        assert score.check(name).passed, (name, score.check(name).details)
