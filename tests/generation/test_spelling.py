"""An English calendar for the US is written in US spelling; the British bank stays British for
everyone else, and the brief's own words (brand, offers, niche) are never rewritten."""

from __future__ import annotations

import re

from postplan.generation.planner import plan_entries
from postplan.generation.planner.spelling import american, wants_us_spelling
from tests.generation.helpers import make_brief

BRITISH = re.compile(r"\b(favourites?|colours?|neighbour\w*|flavours?|tyres?|MOT|practise|"
                     r"moisturis\w*|organis\w*|centre)\b")


def _text(entries: list) -> str:  # type: ignore[type-arg]
    return "\n".join(f"{e.hook}\n{e.caption}\n{e.call_to_action}\n{e.asset_notes}\n"
                     f"{' '.join(e.hashtags)}" for e in entries)


def test_a_us_garage_gets_us_spelling_and_a_british_one_keeps_its_own() -> None:
    common = {"niche": "car repair garage", "days": 92, "postsPerWeek": {"instagram": 7},
              "channels": ["instagram"], "brand": "Colour Motors"}
    us = plan_entries(make_brief(language="en", country="US", timezone="America/Chicago",
                                 **common))
    text = _text(us)
    assert BRITISH.findall(text.replace("Colour Motors", "")) == []
    assert "Colour Motors" in text  # the brand as the brief wrote it
    gb = plan_entries(make_brief(language="en", country="GB", timezone="Europe/London",
                                 **common))
    assert BRITISH.search(_text(gb)), "the British bank should show in a British calendar"


def test_who_gets_us_spelling() -> None:
    assert wants_us_spelling(make_brief(language="en-US", country="GB"))
    assert wants_us_spelling(make_brief(language="en", country="US"))
    assert not wants_us_spelling(make_brief(language="en-GB", country="US"))
    assert not wants_us_spelling(make_brief(language="en", country="CA"))
    assert not wants_us_spelling(make_brief(language="de", country="US"))


def test_words_keep_their_case_and_the_brief_its_words() -> None:
    brief = make_brief(language="en-US", brand="Favourite Things",
                       offers=[{"name": "Colour consult", "description": "a cosy chat"}])
    assert american("Our Favourite colours: FLAVOUR. An MOT, neighbourhood tyres.", brief) == \
        "Our Favorite colors: FLAVOR. A state inspection, neighborhood tires."
    assert american("Favourite Things: book the Colour consult, a cosy chat.", brief) == \
        "Favourite Things: book the Colour consult, a cosy chat."
