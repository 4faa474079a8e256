"""Holidays (the `holidays` package, by `brief.country`) and marketing days for topical hooks."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable
from functools import cache
from typing import Any

import holidays

from postplan.generation.planner.data import marketing_days
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


def _rule_date(rule: dict[str, Any], year: int) -> dt.date:
    kind = rule["rule"]
    if kind == "fixed":
        month, day = (int(x) for x in str(rule["date"]).split("-"))
        return dt.date(year, month, day)
    if kind == "nth_weekday":
        return _nth_weekday(year, int(rule["month"]), int(rule["weekday"]), int(rule["n"]))
    if kind == "thanksgiving":
        return _nth_weekday(year, 11, 3, 4) + dt.timedelta(days=int(rule["offset"]))
    raise ValueError(f"unknown marketing-day rule {kind!r}")


def is_solemn(name: str) -> bool:
    """Days never used as an upbeat topical hook (Good Friday, memorial days, ...)."""
    folded = name.casefold()
    return any(word in folded for word in marketing_days()["solemn"])


@cache
def _marketing_year(year: int, country: str | None) -> tuple[tuple[dt.date, str], ...]:
    out: list[tuple[dt.date, str]] = []
    for rule in marketing_days()["days"]:
        countries = rule.get("countries")
        if countries is not None and country not in countries:
            continue
        out.append((_rule_date(rule, year), str(rule["name"])))
    return tuple(sorted(out))


def supported_country(country: str) -> bool:
    """Whether the holidays package knows this ISO 3166-1 alpha-2 code."""
    return country in holidays.list_supported_countries(include_aliases=False)


@cache
def _country_year(country: str, year: int) -> tuple[tuple[dt.date, str], ...]:
    # English names match the English copy templates; fall back to the country's default.
    cls = holidays.country_holidays(country)
    languages = tuple(getattr(cls, "supported_languages", ()) or ())
    language = next((lang for lang in ("en_US", "en_GB", "en") if lang in languages), None)
    categories: tuple[str, ...] = ("public",)
    if "unofficial" in tuple(getattr(cls, "supported_categories", ()) or ()):
        categories = ("public", "unofficial")  # US: Valentine's, Halloween, Mother's Day ...
    with warnings.catch_warnings():
        # e.g. India's lunar holidays warn outside 2001-2035; fewer holidays is fine here.
        warnings.simplefilter("ignore")
        table = holidays.country_holidays(
            country, years=year, language=language, categories=categories
        )
    out: list[tuple[dt.date, str]] = []
    for day, names in sorted(table.items()):
        for name in str(names).split("; "):
            out.append((day, name))
    return tuple(out)


def _rows(country: str | None, first: dt.date, last: dt.date) -> list[tuple[dt.date, str]]:
    years: Iterable[int] = range(first.year, last.year + 1)
    rows: list[tuple[dt.date, str]] = []
    for year in years:
        if country is not None and supported_country(country):
            rows.extend(_country_year(country, year))
        rows.extend(_marketing_year(year, country))
    # "(observed)" rows are days off moved off a weekend, not a moment to post about.
    return [(d, n) for d, n in rows if first <= d <= last and "(observed)" not in n]


def observances_between(
    country: str | None, first: dt.date, last: dt.date
) -> dict[dt.date, tuple[str, ...]]:
    """Non-solemn observances per local date in [first, last]: country holidays first, then
    marketing days, de-duplicated by name."""
    found: dict[dt.date, list[str]] = {}
    for day, name in _rows(country, first, last):
        if not is_solemn(name):
            names = found.setdefault(day, [])
            if all(name.casefold() != n.casefold() for n in names):
                names.append(name)
    return {day: tuple(names) for day, names in sorted(found.items())}


def solemn_days(country: str | None, first: dt.date, last: dt.date) -> dict[dt.date, str]:
    """Local dates in [first, last] that carry a solemn observance (no promotional posts)."""
    out: dict[dt.date, str] = {}
    for day, name in _rows(country, first, last):
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
