"""Grammar-safe composition: every template of every language rendered with every filler of
every slot class, checked for the faults issue 16 found (doubled words, dangling punctuation,
empty slots, lower-case starts, pasted audience text)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from postplan.generation.planner.compose import (
    SLOT_CLASSES,
    format_date,
    render,
    slots_of,
    tag_from_words,
)
from postplan.generation.planner.data import body_bank, language_bank, marketing_days
from postplan.generation.planner.languages import SUPPORTED
from postplan.generation.planner.observances import observances_between

DOUBLED = re.compile(r"(?<!\w)(\w+)\s+\1(?!\w)", re.IGNORECASE)
# A slot stands alone: at the start or after a colon/question mark/opening sign, and before
# punctuation, a dash or the end. No article or case ending ever touches it.
BEFORE = re.compile(r"(^|[:?!]\s|¿|\(|\s-\s|\s)$")
AFTER = re.compile(r"^($|[:,.?!)]|\s[-:?!]|\s\(|\s)")
# The noun-phrase slot is stricter: only headline positions, never inside a sentence.
TOPIC_BEFORE = re.compile(r"(^|[:?!]\s|¿|\s-\s)$")
TOPIC_AFTER = re.compile(r"^($|[:,?]|\s[-:?])")


def _bad_punctuation(text: str, language: str) -> str | None:
    if language == "fr":
        text = re.sub(r" ([:?!;])", r"\1", text)  # French puts a space before : ? ! ;
    for pattern in (r"\s[,.:;?!]", r"[,:;]\s*$", r"[,.:;]{2}", r"\?\.", r"!\.", r"\s{2}",
                    r"^\s|\s$", r"\(\s*\)", r":\s*[,.:!?]", r"[{}]"):
        if re.search(pattern, text):
            return pattern
    return None


def _first_letter_upper(text: str) -> bool:
    """A sentence starts upper-case (after an opening ¿ ¡ « or quote; a number may start)."""
    first = text.lstrip("¿¡«\"'( ")[:1]
    return not first.isalpha() or first.isupper()


def _templates(bank: dict[str, object]) -> list[str]:
    """Every template of a language bank: its own, each tone's and each register overlay's."""
    out: list[str] = [*bank["hooks"], *bank["placeHooks"], bank["offerLine"]]  # type: ignore[misc]
    for group in ("occasionHooks", "occasionLines", "ctas"):
        for items in bank[group].values():  # type: ignore[attr-defined]
            out.extend(items)
    for tone in bank["tones"].values():  # type: ignore[attr-defined]
        out.extend([*tone["hooks"], *tone["engagement"]])
    for overlay in bank.get("registers", {}).values():  # type: ignore[attr-defined]
        out.extend(_templates({**bank, **overlay, "registers": {}}))
    return out


def _fillers(language: str) -> dict[str, list[str]]:
    bank = language_bank(language)
    # Family topics and every sub-niche's (dental, hair, bakery...): all go into the same hooks.
    topics = sorted({t for items in bank["topics"].values() for t in items}
                    | {t for items in body_bank(language)["subTopics"].values() for t in items})
    occasions = sorted({str(r["names"][language]) for r in marketing_days()["days"]})
    for country in ("DE", "US", "FR", "ES", "BR"):
        table = observances_between(country, dt.date(2026, 1, 1), dt.date(2026, 12, 31),
                                    language=language)
        occasions.extend(n for names in table.values() for n in names)
    return {
        "Topic": topics,
        "Place": ["Berlin", "New York", "São Paulo", "Aix-en-Provence"],
        "Occasion": sorted(set(occasions)),
        "Date": [format_date(dt.date(2026, m, d), bank) for m, d in ((1, 1), (12, 24), (5, 9))],
        "Offer": ["Winter Blend", "10-class pass", "Café crème"],
        "Description": ["Our seasonal espresso blend.", "Ten classes, valid for 3 months."],
        "Link": ["https://example.com/book?x=1", "https://shop.example/w"],
        "Brand": ["Bean There", "Lift NYC", "ÉCLAIR & Co"],
    }


@pytest.mark.parametrize("language", SUPPORTED)
def test_every_template_with_every_filler_reads_correctly(language: str) -> None:
    bank = language_bank(language)
    fillers = _fillers(language)
    rendered = 0
    for template in _templates(bank):
        used = slots_of(template)
        assert used <= set(SLOT_CLASSES), template
        for name in used:  # every slot stands alone (no article, case or plural glued on)
            for match in re.finditer(r"\{" + name + r"\}", template):
                before, after = template[:match.start()], template[match.end():]
                # German compounds with the brand ("{Brand}-Team") are fine.
                glued = name == "Brand" and after.startswith("-")
                assert BEFORE.search(before) and (AFTER.search(after) or glued), (template, name)
                if name == "Topic":
                    assert TOPIC_BEFORE.search(before) and TOPIC_AFTER.search(after), template
        base = {k: v[0] for k, v in fillers.items()}
        for name in sorted(used) or ["Brand"]:
            for value in fillers[name]:
                text = render(template, {**base, name: value})
                assert text is not None, (template, name, value)
                rendered += 1
                assert not DOUBLED.search(text), text
                assert _bad_punctuation(text, language) is None, (text,
                                                                   _bad_punctuation(text,
                                                                                    language))
                assert _first_letter_upper(text), text
        if used:  # a missing filler drops the template instead of leaving a hole
            assert render(template, {**base, sorted(used)[0]: ""}) is None
    assert rendered > 500


@pytest.mark.parametrize("language", SUPPORTED)
def test_caption_sentences_read_correctly(language: str) -> None:
    """Topic bodies and niche lines are whole sentences without slots: each one reads cleanly
    on its own, and a formal German / informal French calendar can use them all (no address)."""
    extra = body_bank(language)
    sentences = [*extra["bodies"].values(), *(x for xs in extra["lines"].values() for x in xs)]
    for text in sentences:
        assert not slots_of(text), text
        assert text.endswith((".", "!")), text
        assert not DOUBLED.search(text), text
        assert _bad_punctuation(text, language) is None, (text, _bad_punctuation(text, language))
        assert _first_letter_upper(text), text
        if language == "de":
            assert not re.search(r"\b(du|dich|dir|dein\w*|Sie|Ihnen|Ihr\w*)\b", text), text
    for topic, text in extra["bodies"].items():  # the hook may end with the topic
        assert topic.split()[-1].casefold() != text.split()[0].casefold(), (topic, text)
        if language == "fr":
            assert not re.search(r"\b(tu|toi|ton|vous|votre|vos)\b", text), text


def test_tags_are_built_from_words() -> None:
    assert tag_from_words("New Year's Eve") == "NewYearsEve"
    assert tag_from_words("Valentine's Day") == "ValentinesDay"
    assert tag_from_words("St Nicholas’ Day") == "StNicholasDay"
    assert tag_from_words("1. Advent") == "1Advent"
    assert tag_from_words("Día de la Madre") == "DíaDeLaMadre"
    assert tag_from_words("x" * 40) == ""
    assert tag_from_words("'''") == ""


def test_dates_in_each_language() -> None:
    day = dt.date(2026, 12, 24)
    got = {lang: format_date(day, language_bank(lang)) for lang in SUPPORTED}
    assert got == {"en": "Dec 24", "de": "24.12.", "es": "24 de diciembre",
                   "fr": "24 décembre", "pt": "24 de dezembro"}
    assert format_date(dt.date(2026, 5, 1), language_bank("fr")) == "1er mai"


def test_fillers_are_never_expanded_again() -> None:
    text = render("{Offer}: {Link} - {Brand}", {"Offer": "{Topic} deal", "Topic": "x",
                                                 "Link": "https://a.example/{Brand}",
                                                 "Brand": "bean {Offer}"})
    assert text == "{Topic} deal: https://a.example/{Brand} - bean {Offer}"
    assert render("{Brand} says hi", {"Brand": "bean there"}) == "bean there says hi"
