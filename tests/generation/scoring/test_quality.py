"""The copy-quality report: each metric catches an artefact issue 16 names, passes clean copy."""

from __future__ import annotations

import datetime as dt

from postplan.generation.schemas import Brief, EntryDraft
from postplan.generation.scoring.language import detect_language, language_mismatch
from postplan.generation.scoring.niches import niche_family
from postplan.generation.scoring.occasions import expected_in_range, foreign_occasions
from postplan.generation.scoring.quality import grammar_problems, quality_report
from tests.generation.helpers import make_brief


def _entry(hook: str, caption: str, tags: list[str], cta: str, day: int = 1) -> EntryDraft:
    return EntryDraft.model_validate({
        "channel": "instagram", "format": "reel",
        "scheduledAt": dt.datetime(2026, 12, day, 9, tzinfo=dt.UTC).isoformat(),
        "timezone": "Europe/Berlin", "pillar": "education", "hook": hook, "caption": caption,
        "hashtags": tags, "callToAction": cta, "assetNotes": "film it"})


def _berlin_cafe() -> Brief:
    return make_brief(brand="Röstwerk", niche="specialty coffee shop", language="de",
                      country="DE", audience="Berlin locals aged 22-40",
                      goals="more visits to the shop", startDate="2026-11-20", days=30)


def test_grammar_artefacts_from_the_issue_are_caught() -> None:
    assert grammar_problems("Into specialty coffee shop and? Watch this", None)
    assert grammar_problems("a quick quick workouts checklist", None)
    assert grammar_problems("This one is for you, you: read on", None)
    audience = "Berlin locals aged 22-40"
    assert grammar_problems(f"Heads up, {audience}: new beans", audience)
    assert grammar_problems("Fresh {topic} today", None)
    assert grammar_problems("Our new espresso blend is here. Come taste it!", None) == []


def test_language_detector_tells_the_five_languages_apart() -> None:
    samples = {
        "en": "This is the one drink we make for you every morning, and it is worth the wait.",
        "de": "Das ist der Kaffee, den wir jeden Morgen für euch machen, und er ist es wert.",
        "es": "Este es el café que hacemos para ti cada mañana, y vale la pena la espera.",
        "fr": "Voici le café que nous préparons pour vous chaque matin, et il vaut le détour.",
        "pt": "Este é o café que fazemos para você todas as manhãs, e vale muito a pena.",
    }
    for lang, text in samples.items():
        assert detect_language(text) == lang, lang
    assert detect_language("#coffee #berlin") is None  # too little to judge
    assert language_mismatch(samples["en"], "de-AT") == "en"
    assert language_mismatch(samples["en"], "ja") is None  # not a language it knows


def test_occasions_are_judged_per_country() -> None:
    assert foreign_occasions("Our Giving Tuesday pick", "DE") == ["giving_tuesday"]
    assert foreign_occasions("Happy Singles' Day!", "US") == ["singles_day"]
    assert foreign_occasions("Black Friday beans", "DE") == []
    names = [n for n, _ in expected_in_range("DE", dt.date(2026, 11, 20), 42)]
    assert names == ["1. Advent", "Nikolaus", "Heiligabend", "Silvester"]


def test_niche_family_from_the_niche_text() -> None:
    assert niche_family("specialty coffee shop") == "food_drink"
    assert niche_family("fitness coach") == "fitness"
    assert niche_family("B2B SaaS for invoicing") == "tech"
    assert niche_family(None) is None


def test_report_scores_bad_copy_badly_and_good_copy_well() -> None:
    brief = _berlin_cafe()
    bad = [_entry(f"The tools on our desk, part {i}",
                  "Heads up, Berlin locals aged 22-40: the prototype nobody saw.",
                  ["Specialty", "ValentineSDay"], "Shop through the link in our bio", day=i + 1)
           for i in range(4)]
    good = [_entry(f"Warum unser Espresso {i} Sekunden läuft",
                   "Wir zeigen euch, wie der Kaffee bei uns im Laden entsteht, und warum das "
                   "für den Geschmack so wichtig ist.", [f"Kaffee{i}", "Berlin", f"Tag{i}"],
                   "Komm vorbei und probier ihn im Laden!", day=i + 1)
            for i in range(4)]
    b, g = quality_report(brief, bad).metrics, quality_report(brief, good).metrics
    assert b["grammar_issue_rate"] == 1.0 and g["grammar_issue_rate"] == 0.0
    assert b["off_niche_rate"] == 1.0 and g["off_niche_rate"] == 0.0
    assert b["language_mismatch_rate"] == 1.0 and g["language_mismatch_rate"] == 0.0
    assert b["hashtag_invalid_rate"] == 0.5 and g["hashtag_invalid_rate"] == 0.0
    assert b["hashtag_top_share"] == 1.0 and g["hashtag_top_share"] == 1.0  # #Berlin on all
    assert b["cta_conflict_rate"] == 1.0 and g["cta_conflict_rate"] == 0.0
    assert b["cta_goal_fit"] == 0.0 and g["cta_goal_fit"] == 1.0
    assert b["distinct_hook_ratio"] == 1.0 and b["distinct_opener_ratio"] == 0.25
