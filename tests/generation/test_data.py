"""The versioned data tables ship with the package and are internally consistent."""

from __future__ import annotations

import datetime as dt
import re
from importlib import resources

from postplan.core.vocab import FORMATS_BY_CHANNEL, Channel
from postplan.generation.planner.data import (
    best_times,
    body_bank,
    copy_bank,
    language_bank,
    marketing_days,
    niche_table,
)
from postplan.generation.planner.languages import SUPPORTED
from postplan.generation.planner.observances import _rule_date, observances_between

TAG = re.compile(r"^\w{1,30}$")


def test_files_are_package_resources() -> None:
    data = resources.files("postplan.generation").joinpath("data")
    names = {p.name for p in data.iterdir()}
    assert {"best_times.json", "marketing_days.json", "copy_bank.json", "niches.json",
            "copy", "bodies", "tags"} <= names


def test_every_table_is_versioned() -> None:
    assert best_times().version
    assert marketing_days()["version"]
    assert copy_bank()["version"]


def test_best_time_windows() -> None:
    for channel, table in best_times().channels.items():
        assert {f for f, _ in table.format_mix} == set(FORMATS_BY_CHANNEL[channel])
        assert len(table.days) == 7
        for day in table.days:
            assert sum(w.primary for w in day.windows) == 1
            for w in day.windows:
                assert dt.time(7) <= w.start < w.end <= dt.time(22)
                width = (dt.datetime.combine(dt.date.min, w.end)
                         - dt.datetime.combine(dt.date.min, w.start))
                assert width >= dt.timedelta(minutes=60)  # room for the 15-minute jitter
    assert best_times().channels[Channel.tiktok].days[2].weight == 100  # Wednesday (Sprout)


def test_language_banks_are_complete_and_alike() -> None:
    families = {row["family"] for row in niche_table()["families"]} | {"generic"}
    assert len(families) >= 11
    shape = language_bank("en")
    for language in SUPPORTED:
        bank = language_bank(language)
        assert bank["version"]
        assert set(bank) - {"registers"} == set(shape), language
        assert set(bank["topics"]) == set(bank["tags"]) == families, language
        assert all(len(set(t)) >= 10 for t in bank["topics"].values()), language
        assert all(TAG.match(t) for tags in bank["tags"].values() for t in tags), language
        assert set(bank["ctas"]) == set(shape["ctas"])
        assert set(bank["assetNotes"]) >= {f.value for fs in FORMATS_BY_CHANNEL.values()
                                           for f in fs}
        assert len(bank["dates"]["months"]) == 12
    # the same topic in two languages would be a missing translation
    for a in SUPPORTED:
        for b in SUPPORTED:
            if a < b:
                same = {t for ts in language_bank(a)["topics"].values() for t in ts} & {
                    t for ts in language_bank(b)["topics"].values() for t in ts}
                assert not same, (a, b, same)


def test_body_banks_cover_every_topic() -> None:
    """Every niche topic of every language has a caption sentence; sub-niche banks, lines and
    tag pools exist alike in every language; every tag is valid."""
    subs = {row["bank"] for rows in niche_table()["subNiches"].values()
            if isinstance(rows, dict) for row in rows["banks"]}
    families = {row["family"] for row in niche_table()["families"]} | {"generic"}
    shape = body_bank("en")
    for language in SUPPORTED:
        bank, extra = language_bank(language), body_bank(language)
        assert set(extra) == set(shape), language
        assert set(extra["subTopics"]) == set(shape["subTopics"]) <= subs
        niche_topics = [t for f, ts in bank["topics"].items() if f != "generic" for t in ts]
        niche_topics += [t for ts in extra["subTopics"].values() for t in ts]
        assert all(len(ts) >= 8 for ts in extra["subTopics"].values()), language
        assert set(extra["bodies"]) == set(niche_topics), language
        assert set(extra["topicTags"]) <= set(niche_topics), language
        # a family with sub-niches always resolves to one of them (food → coffee, bakery, ...)
        split = {f: t for f, t in niche_table()["subNiches"].items() if f != "comment"}
        defaults = {t["default"] for t in split.values()}
        assert set(extra["lines"]) == (families - set(split)) | subs | defaults, language
        assert set(extra["subTags"]) == subs, language
        for tags in [*extra["subTags"].values(), *extra["moreTags"].values(),
                     extra["topicTags"].values()]:
            assert all(TAG.match(t) and not t[0].isdigit() for t in tags), language
        # a sub-niche pool large enough that rotation keeps any tag off most posts
        assert all(len(set(tags)) >= 12 for tags in extra["subTags"].values()), language
    assert set(niche_table()["emoji"]) >= families | subs


def test_register_overlays_replace_known_keys() -> None:
    for language in SUPPORTED:
        bank = language_bank(language)
        for overlay in bank.get("registers", {}).values():
            assert set(overlay) <= set(bank) - {"registers"}, language
            assert set(overlay["ctas"]) == set(bank["ctas"]), language
        assert set(bank["tones"]) == {"playful", "professional", "warm", "bold"}, language


def test_marketing_days_say_where_they_come_from() -> None:
    for row in marketing_days()["days"]:
        assert row["source"] and set(row["names"]) == set(SUPPORTED), row["name"]


def test_marketing_day_rules() -> None:
    rules = {r["name"]: r for r in marketing_days()["days"] if "US" in r.get("countries", ["US"])
             or "DE" in r.get("countries", [])}
    assert _rule_date(rules["Black Friday"], 2026) == dt.date(2026, 11, 27)
    assert _rule_date(rules["Cyber Monday"], 2026) == dt.date(2026, 11, 30)
    assert _rule_date(rules["Mother's Day"], 2026) == dt.date(2026, 5, 10)
    assert _rule_date(rules["Fourth Sunday of Advent"], 2026) == dt.date(2026, 12, 20)
    assert _rule_date(rules["First Sunday of Advent"], 2026) == dt.date(2026, 11, 29)
    assert _rule_date(rules["First Sunday of Advent"], 2027) == dt.date(2027, 11, 28)
    assert _rule_date(rules["Earth Day"], 2027) == dt.date(2027, 4, 22)


def test_observances_merge_country_and_marketing_days() -> None:
    got = observances_between("GB", dt.date(2026, 12, 24), dt.date(2026, 12, 31))
    assert got[dt.date(2026, 12, 25)] == ("Christmas Day",)
    assert "New Year's Eve" in got[dt.date(2026, 12, 31)]
    plain = observances_between(None, dt.date(2026, 3, 8), dt.date(2026, 3, 8))
    assert plain == {dt.date(2026, 3, 8): ("International Women's Day",)}
