"""What the planner reads out of a brief's free text: niche family, goal, place, avoid-list.

Everything here chooses words; nothing from the audience text is ever pasted into copy.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from postplan.generation.planner.data import niche_table
from postplan.generation.schemas import Brief

_WORD = re.compile(r"\w+")

#: Goal words (en/de/es/fr/pt stems, matched at the start of a word) → the CTA family. Checked
#: in this order: a booking goal often mentions the shop too, a visit goal the shop as a place.
GOALS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("bookings", ("book", "appointment", "reserv", "termin", "buchung", "buchen", "reserva",
                  "cita", "réserv", "rendez", "agend", "consult")),
    ("signups", ("sign up", "signup", "sign-up", "trial", "newsletter", "subscriber",
                 "waitlist", "waiting list", "register", "anmeld", "registr", "abonnent",
                 "inscri", "suscri", "cadastr", "assinant", "essai", "prueba")),
    ("visits", ("visit", "footfall", "foot traffic", "walk-in", "come by", "store visit",
                "besuch", "laufkundschaft", "visita", "visite", "venir", "frequen")),
    ("sales", ("sell", "sale", "revenue", "order", "purchase", "buy", "shop", "subscription",
               "verkauf", "umsatz", "bestell", "venta", "vender", "pedido", "vente", "vendre",
               "commande", "venda", "compra")),
)
#: Audience words that make a local business speak to its city (place hooks and tags).
LOCAL_WORDS = ("local", "neighbo", "nearby", "city", "anwohner", "nachbar", "kiez", "vecin",
               "barrio", "quartier", "voisin", "bairro", "vizinh", "locais", "locales", "locaux")


#: "in Hamburg", "en Madrid", "à Lyon", "em Lisboa", "aus Köln": a capitalised name after a
#: place preposition (case-sensitive on purpose).
_NAMED_PLACE = re.compile(r"(?<!\w)(?:in|aus|en|à|em|near|around)\s+[A-ZÀ-Þ][\w'-]+"
                          # "style-conscious Munich shoppers" (not the text's first word)
                          r"|(?<=\s)[A-ZÀ-Þ][\w'-]+\s+(?:locals|shoppers|residents|families|"
                          r"commuters|students|parents|professionals)\b")


def _bare(text: str) -> str:
    """Folded and without accents, to compare place names."""
    return "".join(c for c in unicodedata.normalize("NFKD", _fold(text))
                   if not unicodedata.combining(c))


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _has_stem(text: str, stem: str) -> bool:
    """Whether a word (or phrase) of `text` starts with `stem`."""
    return re.search(r"(?<!\w)" + re.escape(stem), text) is not None


@lru_cache(maxsize=256)
def _family(text: str) -> str:
    folded = _fold(text)
    for row in niche_table()["families"]:
        if any(_has_stem(folded, k) for k in row["keywords"]):
            return str(row["family"])
    return "generic"


def niche_family(brief: Brief) -> str:
    """The topic bank for this brief: from the niche text, then the brand, else 'generic'."""
    for text in (brief.niche, brief.brand):
        if text:
            family = _family(text)
            if family != "generic":
                return family
    return "generic"


@lru_cache(maxsize=256)
def _sub(text: str, family: str) -> str | None:
    table = niche_table()["subNiches"].get(family)
    if not table:
        return None
    folded = _fold(text)
    for row in table["banks"]:
        if any(_has_stem(folded, s) for s in row["stems"]) or any(
                re.search(r"(?<!\w)" + re.escape(w) + r"(?!\w)", folded) for w in row["words"]):
            return str(row["bank"])
    return None


def sub_niche(brief: Brief, family: str) -> str:
    """The topic bank inside the family ("bakery", "coffee", ... for food): from the niche
    text, then the brand, else the family's default; the family itself when it has none."""
    for text in (brief.niche, brief.brand):
        if text and (sub := _sub(text, family)):
            return sub
    table = niche_table()["subNiches"].get(family)
    return str(table["default"]) if table else family


def goal_kind(brief: Brief) -> str:
    """'bookings', 'signups', 'visits', 'sales' or 'engagement' (no goal words, or no
    goals)."""
    folded = _fold(brief.goals or "")
    for kind, stems in GOALS:
        if any(_has_stem(folded, s) for s in stems):
            return kind
    return "engagement"


def place_of(brief: Brief) -> str | None:
    """The city the brand speaks to: the time zone's city when the brief's own words name it or
    the business is local by nature (a café, a gym) or its audience is, unless the niche or
    audience names another place ("home owners in Hamburg" in Europe/Berlin); else None."""
    zone = brief.timezone
    if "/" not in zone or zone.startswith("Etc/"):
        return None
    city = zone.rsplit("/", 1)[1].replace("_", " ")
    words = _fold(" ".join(t for t in (brief.niche, brief.audience, brief.brand) if t))
    if _bare(city) in _bare(words):  # "São Paulo" names America/Sao_Paulo
        return city
    # "home owners in Hamburg" with Europe/Berlin: the brief names another place (a city, a
    # country), so the zone's city would be wrong; better no place than the wrong one.
    for text in (brief.niche, brief.audience):
        if text and _NAMED_PLACE.search(text):
            return None
    local_family = niche_family(brief) in niche_table()["localFamilies"]
    if local_family or any(_has_stem(words, w) for w in LOCAL_WORDS):
        return city
    return None


def avoided(brief: Brief) -> tuple[str, ...]:
    """The avoid-list, folded (each entry a word or a phrase)."""
    return tuple(sorted({_fold(a).strip() for a in brief.avoid or () if a.strip()}))


def mentions(text: str, avoid: tuple[str, ...]) -> bool:
    """Whether `text` contains an avoided word or phrase (at a word start, any inflection)."""
    folded = _fold(text)
    return any(_has_stem(folded, a) for a in avoid)
