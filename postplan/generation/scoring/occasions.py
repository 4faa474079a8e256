"""Occasion correctness per country, as the quality report judges it.

Two tables, kept apart from the planner's own (so the report checks the planner, not itself):

* `COUNTRY_BOUND`: occasions that belong to some countries only, with the names they go by in
  the five languages. Copy for a country outside the set is a foreign occasion (Giving Tuesday
  for a Berlin café, Singles' Day for a New York coach).
* `EXPECTED`: per country, the days a social-media manager there would expect a calendar to
  mark when they fall in its range (Advent, Nikolaus and New Year's Eve in Germany; Thanksgiving
  and the Fourth of July in the US …), as (month, day) or a rule, with their names.

Sources: the countries' public-holiday calendars (as the `holidays` package has them) and the
retail calendars of the national trade bodies (HDE for Germany, NRF for the US, BRC for the UK,
FCD for France, ABRASCE for Brazil): a day is listed for a country when its trade body plans
around it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from functools import lru_cache

#: name patterns (regex, casefolded text) → the countries where the occasion is theirs.
COUNTRY_BOUND: dict[str, tuple[str, frozenset[str]]] = {
    "giving_tuesday": (r"giving\s*tuesday", frozenset({"US", "CA", "GB", "AU", "NZ", "IE"})),
    "singles_day": (r"singles'?\s*day|double\s*11|双十一",
                    frozenset({"CN", "SG", "MY", "TW", "HK"})),
    "thanksgiving": (r"thanksgiving|erntedank|acción de gracias|action de grâce|"
                     r"ação de graças", frozenset({"US", "CA"})),
    "boxing_day": (r"boxing\s*day", frozenset({"GB", "CA", "AU", "NZ", "IE"})),
    "cyber_monday": (r"cyber\s*monday", frozenset({
        "US", "CA", "GB", "DE", "AT", "FR", "ES", "PT", "BR", "MX", "IE", "AU", "NL", "IT"})),
    "black_friday": (r"black\s*friday", frozenset({
        "US", "CA", "GB", "DE", "AT", "CH", "FR", "ES", "PT", "BR", "MX", "IE", "AU", "NL",
        "IT", "BE", "PL", "AR", "CO", "CL"})),
    "independence_day_us": (r"fourth of july|4th of july|independence day",
                            frozenset({"US"})),
    "memorial_day": (r"memorial\s*day", frozenset({"US"})),
    "labor_day_us": (r"labor\s*day", frozenset({"US", "CA"})),
    "presidents_day": (r"presidents'?\s*day", frozenset({"US"})),
    "cinco_de_mayo": (r"cinco de mayo", frozenset({"US", "MX"})),
    "bonfire_night": (r"bonfire night|guy fawkes", frozenset({"GB"})),
    "nikolaus": (r"nikolaus|st\.? nicholas|saint[- ]nicolas|san nicolás",
                 frozenset({"DE", "AT", "CH", "NL", "BE", "LU", "PL", "CZ", "FR"})),
    "festa_junina": (r"festa junina|festas juninas", frozenset({"BR", "PT"})),
    "dia_dos_namorados": (r"dia dos namorados", frozenset({"BR"})),
    "reyes": (r"reyes magos|día de reyes|dia de reis", frozenset({"ES", "MX", "AR", "CO",
                                                               "PT", "BR", "CL", "PE"})),
    "bastille": (r"bastille|14 juillet|fête nationale", frozenset({"FR"})),
    "tag_der_einheit": (r"deutschen einheit|german unity", frozenset({"DE"})),
}


def _advent1(year: int) -> dt.date:
    """The fourth Sunday before Christmas."""
    christmas = dt.date(year, 12, 25)
    last_sunday = christmas - dt.timedelta(days=(christmas.weekday() + 1) % 7 or 7)
    return last_sunday - dt.timedelta(weeks=3)


def _nth_weekday(month: int, weekday: int, n: int) -> Callable[[int], dt.date]:
    def rule(year: int) -> dt.date:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    return rule


def _fixed(month: int, day: int) -> Callable[[int], dt.date]:
    return lambda year: dt.date(year, month, day)


_XMAS = r"christmas|weihnacht|navidad|noël|natal"
_NYE = r"new year'?s eve|silvester|nochevieja|saint[- ]sylvestre|réveillon|véspera de ano"
_NY = r"new year|neujahr|neues jahr|año nuevo|nouvel an|ano novo"
_VALENTINE = r"valentin|san valentín|saint[- ]valentin|dia dos namorados"

#: country → [(name, date rule, name pattern)] the report expects when in range.
EXPECTED: dict[str, list[tuple[str, Callable[[int], dt.date], str]]] = {
    "DE": [
        ("1. Advent", _advent1, r"advent"),
        ("Nikolaus", _fixed(12, 6), r"nikolaus"),
        ("Heiligabend", _fixed(12, 24), r"heiligabend|christmas eve|" + _XMAS),
        ("Silvester", _fixed(12, 31), _NYE),
        ("Neujahr", _fixed(1, 1), _NY),
        ("Valentinstag", _fixed(2, 14), _VALENTINE),
        ("Tag der Deutschen Einheit", _fixed(10, 3), r"deutschen einheit|german unity"),
    ],
    "US": [
        ("Thanksgiving", _nth_weekday(11, 3, 4), r"thanksgiving"),
        ("Christmas", _fixed(12, 25), _XMAS),
        ("New Year's Eve", _fixed(12, 31), _NYE + "|" + _NY),
        ("Independence Day", _fixed(7, 4), r"fourth of july|4th of july|independence day"),
        ("Valentine's Day", _fixed(2, 14), _VALENTINE),
        ("Halloween", _fixed(10, 31), r"halloween"),
    ],
    "ES": [
        ("Navidad", _fixed(12, 25), _XMAS + r"|nochebuena"),
        ("Nochevieja", _fixed(12, 31), _NYE + "|" + _NY),
        ("Reyes", _fixed(1, 6), r"reyes"),
        ("San Valentín", _fixed(2, 14), _VALENTINE),
    ],
    "FR": [
        ("Noël", _fixed(12, 25), _XMAS + r"|réveillon"),
        ("Saint-Sylvestre", _fixed(12, 31), _NYE + "|" + _NY),
        ("Saint-Valentin", _fixed(2, 14), _VALENTINE),
        ("Fête nationale", _fixed(7, 14), r"fête nationale|14 juillet|bastille"),
    ],
    "BR": [
        ("Natal", _fixed(12, 25), _XMAS),
        ("Réveillon", _fixed(12, 31), _NYE + "|" + _NY),
        ("Dia dos Namorados", _fixed(6, 12), r"namorados"),
    ],
    "PT": [
        ("Natal", _fixed(12, 25), _XMAS),
        ("Passagem de ano", _fixed(12, 31), _NYE + "|" + _NY),
        ("Dia de São Valentim", _fixed(2, 14), _VALENTINE + r"|namorados"),
    ],
    "GB": [
        ("Christmas", _fixed(12, 25), _XMAS),
        ("Boxing Day", _fixed(12, 26), r"boxing day"),
        ("New Year's Eve", _fixed(12, 31), _NYE + "|" + _NY),
        ("Valentine's Day", _fixed(2, 14), _VALENTINE),
    ],
}


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def foreign_occasions(text: str, country: str | None) -> list[str]:
    """Occasions named in `text` that do not belong to `country` (none without a country)."""
    if not country:
        return []
    return [key for key, (pattern, countries) in COUNTRY_BOUND.items()
            if country not in countries and _compiled(pattern).search(text)]


def expected_in_range(country: str | None, start: dt.date, days: int) -> list[tuple[str, str]]:
    """(name, pattern) of the expected days of `country` between `start` and `start + days`.

    Days in the first two days of the range are left out: no planner can lead up to them."""
    if not country or country not in EXPECTED:
        return []
    end = start + dt.timedelta(days=days - 1)
    found: list[tuple[str, str]] = []
    for name, rule, pattern in EXPECTED[country]:
        for year in range(start.year, end.year + 1):
            day = rule(year)
            if start + dt.timedelta(days=2) <= day <= end:
                found.append((name, pattern))
                break
    return found


def mentions(text: str, pattern: str) -> bool:
    """True when `text` names the occasion `pattern` describes."""
    return bool(_compiled(pattern).search(text))
