"""Occasions for topical hooks: the country's (and region's) holidays from the `holidays`
package, plus the curated table of marketing days (generation/data/marketing_days.json, a
`source` per row), named in the brief's language, filtered by `observances` include/exclude.

Another country's commercial days never appear unless the brief includes them by name.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable
from functools import cache
from typing import Any

import holidays

from postplan.generation.planner.compose import tag_from_words
from postplan.generation.planner.data import marketing_days
from postplan.generation.planner.languages import copy_language
from postplan.generation.schemas import Brief

# An observance this many days ahead of a slot still gives it a topical ("ahead") hook.
LEAD_DAYS = 2


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7 + 7 * (-n - 1))


def easter(year: int) -> dt.date:
    """Western Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    rest = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * rest) // 433
    month, day = divmod(h + rest - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _rule_date(rule: dict[str, Any], year: int) -> dt.date:
    kind = rule["rule"]
    if kind == "fixed":
        month, day = (int(x) for x in str(rule["date"]).split("-"))
        return dt.date(year, month, day)
    if kind == "nth_weekday":
        return _nth_weekday(year, int(rule["month"]), int(rule["weekday"]), int(rule["n"]))
    if kind == "thanksgiving":
        return _nth_weekday(year, 11, 3, 4) + dt.timedelta(days=int(rule["offset"]))
    if kind == "advent":
        christmas = dt.date(year, 12, 25)
        fourth = christmas - dt.timedelta(days=christmas.weekday() + 1)  # last Sunday before
        return fourth - dt.timedelta(weeks=4 - int(rule["n"]))
    if kind == "easter":
        return easter(year) + dt.timedelta(days=int(rule["offset"]))
    raise ValueError(f"unknown marketing-day rule {kind!r}")


def is_solemn(name: str) -> bool:
    """Days never used as an upbeat topical hook (Good Friday, memorial days, ...)."""
    folded = name.casefold()
    return any(word in folded for word in marketing_days()["solemn"])


@cache
def _key(name: str) -> str:
    """A name as include/exclude compare it: case, spaces and apostrophes ignored."""
    return tag_from_words(name, 200).casefold()


def _row_name(rule: dict[str, Any], language: str) -> str:
    names: dict[str, str] = rule.get("names") or {}
    return str(names.get(language) or rule["name"])


@cache
def _marketing_year(year: int, country: str | None, language: str,
                    include: tuple[str, ...]) -> tuple[tuple[dt.date, str], ...]:
    out: list[tuple[dt.date, str]] = []
    for rule in marketing_days()["days"]:
        countries = rule.get("countries")
        names = {_key(str(n)) for n in (rule.get("names") or {}).values()} | {_key(rule["name"])}
        if countries is not None and country not in countries and not names & set(include):
            continue
        out.append((_rule_date(rule, year), _row_name(rule, language)))
    return tuple(sorted(out))


def supported_country(country: str) -> bool:
    """Whether the holidays package knows this ISO 3166-1 alpha-2 code."""
    return country in holidays.list_supported_countries(include_aliases=False)


#: The name people use for an official holiday, where the holidays package gives the
#: liturgical or legal one (a Spanish bakery posts for "Día de Reyes", not "Epifanía del Señor").
POPULAR_NAMES: dict[str, dict[str, str]] = {
    "es": {"Epifanía del Señor": "Día de Reyes", "Natividad del Señor": "Navidad"},
}


@cache
def _country_year(country: str, subdiv: str | None, year: int,
                  language: str) -> tuple[tuple[dt.date, str], ...]:
    # Names in the brief's language where the package has them, else English, else its own.
    cls = holidays.country_holidays(country)
    languages = tuple(getattr(cls, "supported_languages", ()) or ())
    wanted = [lang for lang in languages if lang.split("_")[0] == language]
    wanted += [lang for lang in ("en_US", "en_GB", "en") if lang in languages]
    chosen = wanted[0] if wanted else None
    supported = tuple(getattr(cls, "supported_categories", ()) or ())
    # public, plus the commonly kept unofficial days (US: Valentine's, Halloween, Mother's Day)
    # and optional ones (PT/BR: Christmas Eve, New Year's Eve).
    categories = tuple(c for c in ("public", "unofficial", "optional") if c in supported)
    with warnings.catch_warnings():
        # e.g. India's lunar holidays warn outside 2001-2035; fewer holidays is fine here.
        warnings.simplefilter("ignore")
        table = holidays.country_holidays(
            country, subdiv=subdiv, years=year, language=chosen, categories=categories
        )
    popular = POPULAR_NAMES.get(language, {})
    out: list[tuple[dt.date, str]] = []
    for day, names in sorted(table.items()):
        for name in str(names).split("; "):
            out.append((day, popular.get(name, name)))
    return tuple(out)


def _rows(country: str | None, first: dt.date, last: dt.date, *, subdiv: str | None = None,
          language: str = "en", include: tuple[str, ...] = (),
          exclude: tuple[str, ...] = ()) -> list[tuple[dt.date, str]]:
    years: Iterable[int] = range(first.year, last.year + 1)
    rows: list[tuple[dt.date, str]] = []
    for year in years:
        if country is not None and supported_country(country):
            rows.extend(_country_year(country, subdiv, year, language))
        rows.extend(_marketing_year(year, country, language, include))
    # "(observed)" rows are days off moved off a weekend, not a moment to post about.
    excluded = set(exclude)
    return [(d, n) for d, n in rows if first <= d <= last and "(observed)" not in n
            and "(beobachtet)" not in n and _key(n) not in excluded]


def observances_between(
    country: str | None, first: dt.date, last: dt.date, *, subdiv: str | None = None,
    language: str = "en", include: tuple[str, ...] = (), exclude: tuple[str, ...] = (),
) -> dict[dt.date, tuple[str, ...]]:
    """Non-solemn observances per local date in [first, last]: country (and region) holidays
    first, then marketing days, each name once per date."""
    found: dict[dt.date, list[str]] = {}
    for day, name in _rows(country, first, last, subdiv=subdiv, language=language,
                           include=include, exclude=exclude):
        if not is_solemn(name):
            names = found.setdefault(day, [])
            if all(_key(name) != _key(n) for n in names):
                names.append(name)
    return {day: tuple(names) for day, names in sorted(found.items())}


def solemn_days(country: str | None, first: dt.date, last: dt.date, *,
                subdiv: str | None = None, language: str = "en") -> dict[dt.date, str]:
    """Local dates in [first, last] that carry a solemn observance (no promotional posts)."""
    out: dict[dt.date, str] = {}
    for day, name in _rows(country, first, last, subdiv=subdiv, language=language):
        if is_solemn(name):
            out.setdefault(day, name)
    return out


def region_parts(brief: Brief) -> tuple[str | None, str | None]:
    """(country, subdivision) for holidays: the brief's country, else the region's prefix, and
    the region's subdivision code ("DE-BE" → ("DE", "BE"))."""
    region = brief.observances.region if brief.observances else None
    if region is None:
        return brief.country, None
    prefix, _, subdiv = region.partition("-")
    return brief.country or prefix, subdiv


def brief_observances(brief: Brief, first: dt.date, last: dt.date
                      ) -> dict[dt.date, tuple[str, ...]]:
    """`observances_between` as the brief asks: its country and region, its language, its
    include and exclude lists."""
    country, subdiv = region_parts(brief)
    obs = brief.observances
    return observances_between(
        country, first, last, subdiv=subdiv, language=copy_language(brief.language),
        include=tuple(sorted(_key(n) for n in obs.include)) if obs else (),
        exclude=tuple(sorted(_key(n) for n in obs.exclude)) if obs else (),
    )


def brief_solemn_days(brief: Brief, first: dt.date, last: dt.date) -> dict[dt.date, str]:
    """`solemn_days` for the brief's country and region."""
    country, subdiv = region_parts(brief)
    return solemn_days(country, first, last, subdiv=subdiv,
                       language=copy_language(brief.language))


def unknown_includes(brief: Brief) -> list[str]:
    """`observances.include` names that match no curated day (they are ignored)."""
    if not brief.observances or not brief.observances.include:
        return []
    known: set[str] = set()
    for rule in marketing_days()["days"]:
        known |= {_key(str(n)) for n in (rule.get("names") or {}).values()}
        known.add(_key(rule["name"]))
    return [n for n in brief.observances.include if _key(n) not in known]


def region_problem(brief: Brief) -> str | None:
    """Why `observances.region` cannot be used (another country's, or unknown), else None."""
    region = brief.observances.region if brief.observances else None
    if region is None:
        return None
    prefix, _, subdiv = region.partition("-")
    if brief.country is not None and prefix != brief.country:
        return f"region {region} is not in country {brief.country}"
    if not supported_country(prefix):
        return f"no holiday data for the country of region {region}"
    known = holidays.country_holidays(prefix).subdivisions
    if subdiv not in known:
        shown = ", ".join(f"{prefix}-{s}" for s in list(known)[:40])
        return f"unknown region {region}; {prefix} has {shown or 'no regions'}"
    return None
