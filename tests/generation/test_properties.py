"""Property tests: any plannable brief gives a calendar the scorer passes."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from postplan.core.zones import CANONICAL_ZONES
from postplan.generation.planner import (
    check_brief,
    count_slots,
    normalise_hook,
    plan_entries,
    plan_slots,
)
from postplan.generation.schemas import Brief
from postplan.generation.scoring import score_calendar

# Every zone a brief may name (host-only names such as `localtime` or `Factory` are refused).
ZONES = sorted(CANONICAL_ZONES)
PILLAR_NAMES = ["education", "recipes", "team life", "customer stories", "offers", "memes",
                "Nachhaltigkeit", "テクニック", "Q&A 🎉", "\"quotes\" & more"]


@st.composite
def briefs(draw: st.DrawFn) -> Brief:
    channels = draw(st.sampled_from([["tiktok"], ["instagram"], ["tiktok", "instagram"],
                                     ["instagram", "tiktok"]]))
    cadence = draw(st.one_of(
        st.none(),
        st.integers(len(channels), 7 * len(channels)),  # a total: at least one per channel
        st.fixed_dictionaries({c: st.integers(1, 7) for c in channels}),
    ))
    pillars = draw(st.one_of(st.none(), st.lists(st.sampled_from(PILLAR_NAMES), min_size=1,
                                                 max_size=5, unique=True)))
    return Brief.model_validate({
        "brand": draw(st.sampled_from(["Bean There", "ÉCLAIR & Co", "סטודיו 🌿", "x" * 200])),
        "niche": draw(st.sampled_from([None, "specialty coffee", "urban gardening tips"])),
        "audience": draw(st.sampled_from([None, "busy parents", "first-time founders"])),
        "channels": channels,
        "startDate": draw(st.dates(dt.date(2010, 1, 1), dt.date(2040, 12, 31))).isoformat(),
        "days": draw(st.integers(1, 92)),
        "postsPerWeek": cadence,
        "timezone": draw(st.sampled_from(ZONES)),
        "pillars": pillars,
        "country": draw(st.sampled_from([None, "US", "DE", "GB", "BR", "JP", "IN", "AU"])),
        "language": draw(st.sampled_from(["en", "de", "es", "fr", "pt", "pt-BR"])),
        "closedDays": draw(st.one_of(st.none(), st.lists(
            st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), max_size=3))),
        "avoid": draw(st.one_of(st.none(), st.lists(st.sampled_from(
            ["coffee", "the", "our", "Kaffee", "café", "tips"]), max_size=3))),
        # Any text but NUL, which every input refuses (PostgreSQL cannot store it), and lone
        # surrogates, which are not Unicode text (no JSON body or UTF-8 request can carry one).
        "seed": draw(st.one_of(st.none(), st.text(st.characters(blacklist_characters="\x00",
                                                                blacklist_categories=("Cs",)),
                                                  max_size=8))),
    })


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(briefs())
def test_planner_output_passes_the_scorer(brief: Brief) -> None:
    assume(check_brief(brief) == [])
    entries = plan_entries(brief)
    assert len(entries) == count_slots(brief) > 0
    score = score_calendar(brief, entries)
    assert score.passed, ({n: score.check(n).details for n in score.failed}, brief)
    hooks = [normalise_hook(e.hook) for e in entries]
    assert len(set(hooks)) == len(hooks)


@settings(max_examples=40, deadline=None)
@given(briefs())
def test_planning_is_deterministic(brief: Brief) -> None:
    assume(check_brief(brief) == [])
    again = Brief.model_validate(brief.model_dump(mode="json", by_alias=True))
    first = [e.model_dump(mode="json") for e in plan_entries(brief)]
    assert first == [e.model_dump(mode="json") for e in plan_entries(again)]


@settings(max_examples=60, deadline=None)
@given(briefs())
def test_slots_are_sorted_and_in_the_window(brief: Brief) -> None:
    assume(check_brief(brief) == [])
    zone = zoneinfo.ZoneInfo(brief.timezone)
    slots = plan_slots(brief)
    keys = [(s.utc, s.channel.value) for s in slots]
    assert keys == sorted(keys)
    last = brief.start_date + dt.timedelta(days=brief.days - 1)
    for s in slots:
        local = s.utc.astimezone(zone)
        assert brief.start_date <= local.date() <= last
        assert local.replace(tzinfo=None) == s.scheduled_at.replace(tzinfo=None)
        assert s.scheduled_at.utcoffset() == local.utcoffset()
