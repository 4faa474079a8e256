"""Grammar-safe composition: typed slots filled into templates written per language.

A template names its slots by class ({Topic}, {Place}, {Occasion}, {Date}, {Offer},
{Description}, {Link}, {Brand}); each class holds text of one grammatical kind (a noun phrase
standing on its own, a city name, ...), and templates only put a slot where that kind reads
correctly. `render` refuses a template whose slot has no filler, and tidies the joins, so a
missing field never leaves "Into  and? Watch this". tests/generation/test_compose.py renders
every template with every filler class.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from postplan.generation.planner.text import HASHTAG_MAX_LEN, capitalise_first

SLOT = re.compile(r"\{(\w+)\}")
#: Slot classes and whether their filler is capitalised where it stands.
SLOT_CLASSES = ("Topic", "Place", "Occasion", "Date", "Offer", "Description", "Link", "Brand")


def slots_of(template: str) -> set[str]:
    """The slot names a template uses."""
    return set(SLOT.findall(template))


_BRAND_MARK = "\ue000"  # stands for the brand until the sentence is capitalised


def render(template: str, fillers: dict[str, str]) -> str | None:
    """The template with its slots filled, or None when one has no (non-blank) filler.
    One pass over the template, so a filler's own braces ("{Topic}" inside an offer name) are
    never expanded; {Topic} is capitalised; {Brand} stays verbatim, even at the start."""
    needed = slots_of(template)
    if any(not fillers.get(name, "").strip() for name in needed):
        return None

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "Brand":
            return _BRAND_MARK
        value = " ".join(fillers[name].replace(_BRAND_MARK, "").split())
        return capitalise_first(value) if name == "Topic" else value

    text = capitalise_first(" ".join(SLOT.sub(fill, template).split()))
    if "Brand" in needed:
        text = text.replace(_BRAND_MARK, " ".join(fillers["Brand"].split()))
    return text


def format_date(day: dt.date, bank: dict[str, Any]) -> str:
    """A date as the language writes it ("Dec 24", "24.12.", "24 de diciembre", "1er mai")."""
    spec = bank["dates"]
    day_text = str(day.day)
    if spec.get("firstDay") and day.day == 1:
        day_text = str(spec["firstDay"])
    return str(spec["format"]).format(
        day=day_text, month=spec["months"][day.month - 1], month_num=f"{day.month:02d}"
    )


_WORDS = re.compile(r"\w+")
_APOSTROPHES = "'’ʼ`´"


def tag_from_words(text: str, max_len: int = HASHTAG_MAX_LEN) -> str:
    """A hashtag (no '#') built from the words of a phrase, CamelCased: apostrophes are dropped
    inside words first ("Valentine's Day" → "ValentinesDay", never "ValentineSDay"); '' when no
    word is left or the tag would be longer than `max_len` (a cut tag reads badly)."""
    cleaned = unicodedata.normalize("NFKC", text)
    for mark in _APOSTROPHES:
        cleaned = cleaned.replace(mark, "")
    words = _WORDS.findall(cleaned.replace("_", " "))
    tag = "".join(w[:1].upper() + w[1:] for w in words)
    return tag if 0 < len(tag) <= max_len else ""
