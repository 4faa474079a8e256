"""The brief's `tone` and `voiceSamples` steer the planner's copy (docs/briefs.md)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from postplan.generation.planner import plan_entries
from postplan.generation.planner.copybank import brief_bank
from postplan.generation.planner.tags import occasion_tag
from postplan.generation.planner.voice import brief_voice, has_emoji, tone_of
from postplan.generation.scoring.niches import on_niche
from tests.generation.helpers import make_brief

DU = re.compile(r"\b(du|dich|dir|dein\w*)\b", re.IGNORECASE)
SIE = re.compile(r"\b(Sie|Ihnen|Ihr\w*)\b")


def _copy(entries: list) -> str:  # type: ignore[type-arg]
    return "\n".join(f"{e.hook}\n{e.caption}" for e in entries)


@pytest.mark.parametrize(("text", "tone"), [
    ("playful and witty", "playful"), ("locker, witzig", "playful"),
    ("professional", "professional"), ("sachlich und seriös", "professional"),
    ("warm, friendly", "warm"), ("chaleureux", "warm"), ("cálido y cercano", "warm"),
    ("bold and direct", "bold"), ("ousado", "bold"),
    ("warm but professional", "warm"), ("fundiert", None), (None, None), ("", None),
])
def test_tone_words_in_five_languages(text: str | None, tone: str | None) -> None:
    assert tone_of(text) == tone


def test_two_briefs_differing_only_in_tone_read_differently() -> None:
    playful = plan_entries(make_brief(tone="playful", days=30))
    professional = plan_entries(make_brief(tone="professional", days=30))
    assert len(playful) == len(professional)
    fun, pro = _copy(playful), _copy(professional)
    # emoji: the niche's emoji on playful hooks, none when professional
    assert sum(has_emoji(e.hook) for e in playful) >= len(playful) // 2
    assert not has_emoji(pro)
    # exclamation marks: playful CTAs end with one, professional copy carries none
    assert sum(e.call_to_action.endswith("!") for e in playful) >= len(playful) // 2
    assert "!" not in pro
    # openers: each tone's own opening lines show up, and only in their tone
    assert re.search(r"^(Plot twist|Fun fact time|Okay, real talk|You asked)", fun, re.M)
    assert re.search(r"^(In brief|A practical guide|What to know|Explained):", pro, re.M)
    assert not re.search(r"^(In brief|A practical guide|What to know|Explained):", fun, re.M)
    # the topic sentences stay the same kind of copy: on-niche in both
    for e in playful + professional:
        assert on_niche(f"{e.hook}\n{e.caption}", "food_drink"), e.caption


def test_warm_and_bold_differ_from_no_tone() -> None:
    plain = plan_entries(make_brief(days=14))
    warm = plan_entries(make_brief(days=14, tone="warm and welcoming"))
    bold = plan_entries(make_brief(days=14, tone="bold"))
    assert not has_emoji(_copy(plain))
    assert any(e.caption.split("\n\n")[1].endswith("☕") for e in warm)  # after the body
    assert any(e.call_to_action.endswith("!") for e in bold)
    assert [e.hook for e in plain] != [e.hook for e in bold]


def test_formal_and_informal_german() -> None:
    base = {"language": "de", "country": "DE", "niche": "Café mit eigener Rösterei",
            "goals": "mehr Besuche im Laden", "days": 30}
    formal = plan_entries(make_brief(**base, voiceSamples=[
        "Besuchen Sie uns in der Rösterei. Wir beraten Sie gern zu Ihrem Kaffee."]))
    informal = plan_entries(make_brief(**base, voiceSamples=[
        "Komm vorbei und probier deinen neuen Lieblingskaffee!"]))
    assert brief_bank(make_brief(**base, voiceSamples=["Wir freuen uns auf Ihren Besuch."])
                      ).voice.register == "formal"
    assert not DU.search(_copy(formal) + "\n".join(e.call_to_action for e in formal))
    assert SIE.search("\n".join(e.call_to_action for e in formal))
    assert DU.search("\n".join(e.call_to_action for e in informal))
    # a professional tone without samples is formal too; samples in du-form win over the tone
    assert brief_bank(make_brief(**base, tone="professionell")).voice.register == "formal"
    assert brief_bank(make_brief(**base, tone="professionell", voiceSamples=[
        "Schau doch mal bei uns vorbei, wir freuen uns auf dich."])).voice.register is None


def test_tu_or_vous_in_french() -> None:
    base = {"language": "fr", "country": "FR", "timezone": "Europe/Paris",
            "niche": "restaurant de quartier", "goals": "plus de visites", "days": 21}
    sample = "Viens goûter ton nouveau plat préféré, on t'attend !"
    tu = plan_entries(make_brief(**base, voiceSamples=[sample]))
    vous = plan_entries(make_brief(**base))
    ctas_tu = "\n".join(e.call_to_action for e in tu)
    assert not re.search(r"\b(vous|votre|vos)\b", ctas_tu, re.I)
    assert re.search(r"\b(Passe|Viens|Enregistre|Dis-nous|Suis|Partage)\b", ctas_tu)
    assert re.search(r"\b(Passez|Venez|Enregistrez|Dites-nous|Suivez|Partagez)\b",
                     "\n".join(e.call_to_action for e in vous))


def test_voice_samples_steer_emoji_punctuation_and_length() -> None:
    no_emoji = make_brief(tone="playful", voiceSamples=["Fresh beans today. Come by."])
    voice = brief_voice(no_emoji, "en")
    assert not voice.emoji and voice.exclaim is False and voice.length == "short"
    entries = plan_entries(no_emoji)
    assert not has_emoji(_copy(entries)) and "!" not in _copy(entries)
    emoji = brief_voice(make_brief(voiceSamples=["Monday coffee ☕ see you soon!"]), "en")
    assert emoji.emoji and emoji.exclaim is None
    long_samples = ["We roast every batch of coffee by hand in our small workshop, tasting "
                    "each one carefully before it reaches the shelves and your morning cup."]
    long = plan_entries(make_brief(voiceSamples=long_samples, days=14))
    short = plan_entries(make_brief(days=14))
    body = lambda e: e.caption.split("\n\n")[1]  # noqa: E731
    assert sum(len(body(e)) for e in long) > sum(len(body(e)) for e in short)


def test_voice_samples_are_never_pasted() -> None:
    sample = "Our grandmother's secret is cardamom and patience"
    entries = plan_entries(make_brief(voiceSamples=[sample], days=30))
    assert "cardamom" not in _copy(entries).casefold()


def test_bakery_gets_bakery_tags_and_topics_not_coffee() -> None:
    brief = make_brief(language="es", country="ES", timezone="Europe/Madrid",
                       niche="bakery and café", brand="Horno Dulce", days=30,
                       goals="visits to the bakery", startDate="2026-12-10")
    entries = plan_entries(brief)
    tags = Counter(t.casefold() for e in entries for t in e.hashtags)
    assert "panadería" in tags and not {"amantesdelcafé", "barista", "cafetería"} & set(tags)
    # no pool tag on most posts; the place tag on some posts, not all
    assert max(n for t, n in tags.items() if t != "hornodulce") <= len(entries) // 2
    assert 0 < tags["madrid"] < len(entries)
    assert "La pieza que todos nos piden" in {t for t in brief_bank(brief).topics}


def test_occasion_tags_are_clean() -> None:
    assert occasion_tag("1. Advent") == "Advent"
    assert occasion_tag("4th of July") == "OfJuly" or occasion_tag("4th of July") == ""
    assert occasion_tag("Valentine's Day") == "ValentinesDay"
    assert occasion_tag("2026") == ""
    brief = make_brief(language="de", country="DE", startDate="2026-11-25", days=10,
                       postsPerWeek={"instagram": 7, "tiktok": 7})
    tags = {t for e in plan_entries(brief) for t in e.hashtags}
    assert "Advent" in tags or "ErsterAdvent" in tags
    assert not any(t[0].isdigit() for t in tags)


def test_a_place_the_brief_names_beats_the_time_zone_city() -> None:
    from postplan.generation.planner.brief_reading import place_of

    assert place_of(make_brief(niche="plumbing", audience="home owners in Hamburg")) is None
    assert place_of(make_brief(niche="plumbing", audience="home owners in Berlin")) == "Berlin"
    assert place_of(make_brief(niche="café", audience="locals")) == "Berlin"
    assert place_of(make_brief(niche="plant shop", audience="apartment dwellers in São Paulo",
                               timezone="America/Sao_Paulo")) == "Sao Paulo"
    assert place_of(make_brief(niche="fashion boutique",
                               audience="style-conscious Munich shoppers")) is None
    assert place_of(make_brief(niche="fashion boutique", audience="Young professionals")) == (
        "Berlin")
