"""American spelling for an English calendar aimed at the US: the copy bank is written in
British English ("favourite", "tyres", "MOT"), which a US creator would have to fix on every post.

Applied to the finished copy of a slot, word by word with the case kept; the brand, the offers'
names and descriptions, links and the niche and audience as the brief wrote them are never
changed (a brand called "Colour Lab" stays "Colour Lab")."""

from __future__ import annotations

import re
from functools import cache

from postplan.generation.schemas import Brief

#: Whole phrases first (a UK-only institution becomes its US counterpart), then single words.
_PHRASES = (("An MOT", "A state inspection"), ("an MOT", "a state inspection"),
            ("MOT failures", "inspection failures"), ("MOT", "state inspection"))
_WORDS = {
    "favourite": "favorite", "favourites": "favorites", "colour": "color", "colours": "colors",
    "coloured": "colored", "colourful": "colorful", "neighbour": "neighbor",
    "neighbours": "neighbors", "neighbourhood": "neighborhood",
    "neighbourhoods": "neighborhoods", "flavour": "flavor", "flavours": "flavors",
    "tyre": "tire", "tyres": "tires", "practise": "practice", "practising": "practicing",
    "moisturise": "moisturize", "moisturising": "moisturizing", "moisturiser": "moisturizer",
    "sterilised": "sterilized", "localised": "localized", "capitalised": "capitalized",
    "organise": "organize", "organised": "organized", "organising": "organizing",
    "personalised": "personalized", "mould": "mold", "grey": "gray", "defence": "defense",
    "cosy": "cozy", "centre": "center", "centres": "centers", "theatre": "theater",
    "jewellery": "jewelry", "programme": "program", "programmes": "programs",
    "travelling": "traveling", "travelled": "traveled", "cancelled": "canceled",
    "catalogue": "catalog", "licence": "license", "analyse": "analyze",
}
#: Hashtags built from those words (one word each, lower case as the bank writes them).
_TAGS = {"mot": "carinspection", "colourtrends": "colortrends", "colourcare": "colorcare"}
_WORD = re.compile(r"\b(" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")\b",
                   re.IGNORECASE)


def wants_us_spelling(brief: Brief) -> bool:
    """English for the US: `en-US`, or plain `en` with `country: US`."""
    tag = brief.language.replace("_", "-").casefold()
    if not tag.startswith("en"):
        return False
    region = tag.split("-", 1)[1] if "-" in tag else ""
    return region == "us" or (not region and (brief.country or "").upper() == "US")


def _cased(original: str, replacement: str) -> str:
    if original.isupper():
        return replacement.upper()
    if original[0].isupper():
        return replacement[0].upper() + replacement[1:]
    return replacement


@cache
def _protected_pattern(*texts: str) -> re.Pattern[str] | None:
    kept = sorted({t for t in texts if t and t.strip()}, key=len, reverse=True)
    return re.compile("|".join(re.escape(t) for t in kept)) if kept else None


def _protected(brief: Brief) -> re.Pattern[str] | None:
    texts = [brief.brand, brief.niche or "", brief.audience or "", str(brief.link or "")]
    for offer in brief.offers or []:
        texts += [offer.name, offer.description or "", str(offer.link or "")]
    return _protected_pattern(*texts)


def american(text: str, brief: Brief) -> str:
    """`text` in US spelling, leaving the brief's own words as written."""
    keep = _protected(brief)
    held: list[str] = []
    if keep is not None:
        def hold(m: re.Match[str]) -> str:
            held.append(m.group(0))
            return f"\x00{len(held) - 1}\x00"
        text = keep.sub(hold, text)
    for old, new in _PHRASES:
        text = re.sub(rf"\b{re.escape(old)}\b", new, text)
    text = _WORD.sub(lambda m: _cased(m.group(0), _WORDS[m.group(0).casefold()]), text)
    if held:
        text = re.sub(r"\x00(\d+)\x00", lambda m: held[int(m.group(1))], text)
    return text


def american_tags(tags: list[str]) -> list[str]:
    """Hashtags in US spelling (a tag made of one British word, or a known compound)."""
    out: list[str] = []
    for tag in tags:
        low = tag.casefold()
        new = _TAGS.get(low) or _WORDS.get(low)
        if new is None:
            out.append(tag)
        else:
            out.append(_cased(tag, new))
    return out
