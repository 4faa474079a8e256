"""The richer brief in the planner: cadence forms, closed days and windows, niche families,
goal CTAs, the avoid-list, hashtags, occasions per country and region, languages."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest

from postplan.core.vocab import Channel
from postplan.generation.planner import brief_problems, plan_entries, plan_notes, plan_slots
from postplan.generation.planner.brief_reading import goal_kind, niche_family, place_of
from postplan.generation.planner.languages import planner_supports
from postplan.generation.schemas import split_total
from tests.generation.helpers import make_brief

TAG = re.compile(r"^\w{1,30}$")


def test_a_number_is_a_total_an_object_is_per_channel() -> None:
    total = make_brief(postsPerWeek=5, days=28)
    counts = Counter(s.channel for s in plan_slots(total))
    assert counts == {Channel.tiktok: 12, Channel.instagram: 8}
    assert plan_notes(total)["postsPerWeekMode"] == "total"
    assert plan_notes(total)["postsPerWeek"] == {"tiktok": 3, "instagram": 2}
    per = make_brief(postsPerWeek={"tiktok": 3, "instagram": 2}, days=28)
    assert plan_notes(per)["postsPerWeekMode"] == "perChannel"
    assert plan_notes(make_brief())["postsPerWeekMode"] == "default"
    assert split_total(1, [Channel.tiktok, Channel.instagram],
                       {Channel.tiktok: 4, Channel.instagram: 3}) == {Channel.tiktok: 1,
                                                                      Channel.instagram: 0}


def test_closed_days_and_windows_steer_slots() -> None:
    brief = make_brief(days=28, postsPerWeek={"tiktok": 4, "instagram": 3},
                       closedDays=["Sunday", "2026-03-04"],
                       postingWindows={"instagram": [
                           {"weekdays": ["tue", "thu", "sat"], "start": "06:30", "end": "07:30"}]})
    slots = plan_slots(brief)
    assert all(s.scheduled_at.weekday() != 6 for s in slots)
    assert all(s.scheduled_at.date() != dt.date(2026, 3, 4) for s in slots)
    insta = [s for s in slots if s.channel == Channel.instagram]
    assert len(insta) == 12
    assert all(s.scheduled_at.weekday() in (1, 3, 5) for s in insta)
    assert all(dt.time(6, 30) <= s.scheduled_at.time() <= dt.time(7, 30) for s in insta)


def test_unplannable_briefs_name_the_problem() -> None:
    codes = {p.code for p in brief_problems(make_brief(language="ja"))}
    assert codes == {"language_unsupported"}
    assert brief_problems(make_brief(language="ja"), model_available=True) == []
    assert [p.code for p in brief_problems(make_brief(
        country="DE", observances={"region": "DE-XX"}))] == ["region_not_in_country"]
    assert [p.code for p in brief_problems(make_brief(
        closedDays=["mon", "tue", "wed", "thu", "fri", "sat", "sun"]))] == ["closed_days_conflict"]
    assert planner_supports("pt-BR") and planner_supports("DE") and not planner_supports("ja")


@pytest.mark.parametrize(("niche", "family"), [
    ("specialty coffee shop in Berlin", "food"), ("Fitness coach", "fitness"),
    ("Hautpflege-Studio", "beauty"), ("vintage streetwear", "fashion"),
    ("B2B SaaS for invoices", "tech"), ("plumbing and heating", "local_services"),
    ("language courses online", "education"), ("independent bookshop", "retail"),
    ("boutique hotel", "hospitality"), ("animal rescue charity", "nonprofit"),
    ("quantum widgets", "generic"),
])
def test_niche_families(niche: str, family: str) -> None:
    assert niche_family(make_brief(niche=niche)) == family


def test_goals_choose_the_call_to_action() -> None:
    visits = make_brief(goals="more visits to the shop", days=14)
    assert goal_kind(visits) == "visits"
    ctas = {e.call_to_action for e in plan_entries(visits)}
    assert not any("link in our bio" in c or "Shop" in c for c in ctas)
    assert ctas & {"Come by and say hi.", "Drop in this week, we saved you a spot."}
    book = make_brief(goals="book intro sessions", link="https://coach.example/book", days=14)
    assert any(e.call_to_action.endswith("https://coach.example/book") for e in plan_entries(book))
    sales = make_brief(goals="sell the winter blend", days=28, pillars=["offers", "recipes"],
                       offers=[{"name": "Winter Blend", "link": "https://bean.example/w"}])
    promo = [e for e in plan_entries(sales) if e.pillar == "offers"]
    assert promo and all("https://bean.example/w" in e.call_to_action for e in promo)
    assert all("Winter Blend" in e.caption for e in promo)


def test_audience_is_never_pasted_and_place_comes_from_the_zone() -> None:
    brief = make_brief(audience="Berlin locals aged 22-40", days=30,
                       niche="specialty coffee shop in Berlin")
    assert place_of(brief) == "Berlin"
    for e in plan_entries(brief):
        text = f"{e.hook} {e.caption} {e.call_to_action} {' '.join(e.hashtags)}"
        assert "aged" not in text and "22-40" not in text and "locals" not in text
    assert place_of(make_brief(niche="B2B SaaS", audience="finance teams")) is None


def test_avoid_list_is_respected_with_a_fallback() -> None:
    brief = make_brief(avoid=["milk", "beans", "oven"], days=30)
    for e in plan_entries(brief):
        text = f"{e.hook} {e.caption}".replace(brief.brand, "")  # the brand stays verbatim
        assert not re.search(r"\b(milk|beans?|oven)\b", text, re.I)
    everything = ["the", "a", "our", "what", "how", "why", "three", "one", "something",
                  "fresh", "brewing", "pairing", "perfect", "secret", "seasonal", "fresh",
                  "small", "lesson", "tip"]
    emptied = make_brief(avoid=everything, days=7)
    assert plan_entries(emptied)  # the general bank as written, never an empty calendar
    assert any("avoid-list" in n for n in plan_notes(emptied)["notes"])


def test_hashtags_are_valid_varied_and_mixed() -> None:
    brief = make_brief(niche="specialty coffee shop in Berlin", days=60, country="US",
                       timezone="Europe/Berlin", startDate="2026-01-10")
    entries = plan_entries(brief)
    counts = Counter(t for e in entries for t in e.hashtags)
    assert all(TAG.match(t) for t in counts)
    assert max(counts.values()) < len(entries)  # no tag on every post
    assert {"BeanThere", "Berlin"} <= set(counts)  # brand and place tags
    assert "ValentinesDay" in counts and not any("SDay" in t for t in counts)
    assert all(3 <= len(e.hashtags) <= 5 for e in entries)


def test_occasions_are_the_countrys_own() -> None:
    us = make_brief(country="US", timezone="America/New_York", startDate="2026-11-01", days=30,
                    postsPerWeek={"tiktok": 7, "instagram": 7})
    names = Counter((s.channel, s.observance) for s in plan_slots(us) if s.observance)
    assert not any(n == "Singles' Day" for _, n in names)
    assert all(count == 1 for count in names.values())  # one occasion once per channel
    assert {"Thanksgiving Day", "Black Friday"} <= {n for _, n in names}
    included = make_brief(country="US", timezone="America/New_York", startDate="2026-11-01",
                          days=30, observances={"include": ["Singles Day"],
                                                "exclude": ["Black Friday"]})
    got = {s.observance for s in plan_slots(included)}
    assert "Singles' Day" in got and "Black Friday" not in got
    de = make_brief(country="DE", startDate="2026-03-02", days=30)
    assert not {"Giving Tuesday", "Halloween"} & {s.observance for s in plan_slots(de)}


def test_region_holidays_come_from_the_subdivision() -> None:
    def names(region: str | None) -> set[str | None]:
        obs = {"region": region} if region else None
        brief = make_brief(country="DE", startDate="2027-01-04", days=3, observances=obs,
                           postsPerWeek={"tiktok": 7, "instagram": 7}, language="de")
        return {s.observance for s in plan_slots(brief)}

    assert "Heilige Drei Könige" in names("DE-BY")
    assert "Heilige Drei Könige" not in names("DE-BE")


def test_a_link_too_long_for_a_cta_line_falls_back_to_the_bio() -> None:
    long_link = "https://shop.example/" + "x" * 200
    brief = make_brief(goals="sell the winter blend", link=long_link, days=14)
    ctas = {e.call_to_action for e in plan_entries(brief)}
    assert all(len(c) <= 120 for c in ctas)
    assert any("link in our bio" in c for c in ctas)


def test_a_window_of_closed_days_only_is_refused_and_closed_weeks_get_no_quota() -> None:
    """Found by the property test: a one-day calendar on a closed day planned nothing (now a
    422 naming the dates), and a last partial week holding only closed days was given a post
    it could not place (now each week's share counts its open days only)."""
    thursday = make_brief(startDate="2026-03-05", days=1, closedDays=["thu"],
                          channels=["tiktok"])
    (problem,) = brief_problems(thursday)
    assert problem.code == "closed_days_conflict" and "2026-03-05" in problem.message
    # 2026-03-02 is a Monday: 15 days end on Mon 16th; Mon/Tue closed.
    brief = make_brief(startDate="2026-03-02", days=15, closedDays=["mon", "tue"],
                       channels=["tiktok"], postsPerWeek={"tiktok": 2})
    assert brief_problems(brief) == []
    from postplan.generation.scoring import score_calendar
    entries = plan_entries(brief)
    score = score_calendar(brief, entries)
    assert score.passed, {n: score.check(n).details for n in score.failed}
    assert all(e.scheduled_at.weekday() not in (0, 1) for e in entries)
