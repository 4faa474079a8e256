"""The richer brief fields of DESIGN §10: offers, posting windows, observances, closed days.

Kept apart from `schemas.py` so the Brief stays readable; every model here is strict input
(unknown fields are a 422, as for the Brief itself).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

from postplan.core.schemas import InputSchema
from postplan.core.validators import (
    DATE_OUT_OF_RANGE,
    HTTP_URL_PATTERN,
    NoNul,
    conflict,
    is_blank,
)

#: Weekday names as the brief may write them, normalised to three-letter keys (date.weekday()).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = {
    **{d: d for d in WEEKDAYS},
    "monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu",
    "friday": "fri", "saturday": "sat", "sunday": "sun",
}
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")

#: Schema-level forms, so a schema-valid value is never refused for its shape.
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
# Spelled out per letter ([mM][oO][nN]): JSON Schema (ECMA 262) patterns have no inline (?i).
_DAY_NAMES = "|".join(
    "".join(f"[{c}{c.upper()}]" for c in name)
    for name in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
                 "mon", "tue", "wed", "thu", "fri", "sat", "sun"))
WEEKDAY_PATTERN = rf"^({_DAY_NAMES})$"
CLOSED_DAY_PATTERN = rf"^({_DAY_NAMES}|\d{{4}}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))$"
Weekday = Annotated[str, StringConstraints(max_length=9, pattern=WEEKDAY_PATTERN)]
ClosedDay = Annotated[str, StringConstraints(max_length=20, pattern=CLOSED_DAY_PATTERN)]

Url = Annotated[str, StringConstraints(max_length=500, pattern=HTTP_URL_PATTERN), NoNul()]
Phrase = Annotated[str, StringConstraints(min_length=1, max_length=80), NoNul()]


def weekday_key(value: str) -> str | None:
    """'Monday', 'mon' or 'MON' → 'mon'; None when the text is not a weekday name."""
    return _WEEKDAY_NAMES.get(value.strip().casefold())


def parse_hhmm(value: str) -> dt.time:
    """'18:30' → time(18, 30); ValueError otherwise."""
    match = _TIME_RE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a 24-hour time HH:MM")
    return dt.time(int(match.group(1)), int(match.group(2)))


def _not_blank(value: str) -> str:
    value = value.strip()
    if is_blank(value):
        raise ValueError("must not be blank")
    return value


class Offer(InputSchema):
    """Something the brand sells or gives away; calls to action may point at its link."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=120), NoNul()]
    description: Annotated[str, StringConstraints(max_length=500), NoNul()] | None = None
    link: Url | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _not_blank(value)


class PostingWindow(InputSchema):
    """Local times on some weekdays when a channel may post (e.g. 07:00-09:00 on weekdays)."""

    weekdays: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1,
                                    max_length=7)
    start: Annotated[str, StringConstraints(max_length=5, pattern=HHMM)]
    end: Annotated[str, StringConstraints(max_length=5, pattern=HHMM)]

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[str]) -> list[str]:
        keys = []
        for name in value:
            key = weekday_key(name)
            if key is None:
                raise ValueError(f"{name!r} is not a weekday (mon..sun)")
            keys.append(key)
        return sorted(set(keys), key=WEEKDAYS.index)

    @model_validator(mode="after")
    def _range(self) -> PostingWindow:
        start, end = parse_hhmm(self.start), parse_hhmm(self.end)
        if end <= start:
            raise conflict(f"window end {self.end} must be after its start {self.start}")
        return self

    def times(self) -> tuple[dt.time, dt.time]:
        """(start, end) as local wall times."""
        return parse_hhmm(self.start), parse_hhmm(self.end)


class Observances(InputSchema):
    """Which occasions the calendar uses: extra ones, ones to leave out, and a region."""

    include: list[Phrase] = Field(default_factory=list, max_length=50)
    exclude: list[Phrase] = Field(default_factory=list, max_length=50)
    # ISO 3166-2 style: country code, dash, the holidays package's subdivision ("DE-BE").
    region: Annotated[str, StringConstraints(max_length=13,
                                             pattern=r"^[A-Z]{2}-[A-Za-z0-9]{1,10}$")] | None \
        = None


def closed_day(value: str) -> str:
    """A closed day as the planner keeps it: a weekday key ('sun') or an ISO date."""
    key = weekday_key(value)
    if key is not None:
        return key
    try:
        return dt.date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        # The pattern let it through (e.g. 2026-02-30): a date that does not exist.
        raise PydanticCustomError(DATE_OUT_OF_RANGE, "{value} is not a calendar date",
                                  {"value": value}) from None

