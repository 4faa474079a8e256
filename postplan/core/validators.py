"""Field checks that every input schema applies the same way (manual edits, imports, briefs).

Plain functions raising `ValueError`, so pydantic `field_validator`s can call them and report
the message under the field's name, plus the annotated types that carry them together with the
limit the OpenAPI document shows (`maxLength`, a NUL-free `pattern`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

#: The OpenAPI form of "no NUL character": PostgreSQL `text` and `jsonb` cannot hold U+0000, so
#: such a value would be accepted on SQLite and fail on Postgres; it is refused on both.
NO_NUL_PATTERN = r"^[^\x00]*$"

#: The message for a timestamp without an offset, with an example of one that has it.
OFFSET_WITH_EXAMPLE = "must carry a UTC offset, e.g. 2026-12-01T18:00:00+01:00"

#: The dates a calendar may use. Wider would buy nothing (nobody plans posts for year 1) and
#: cost correctness: an instant near year 1 or 9999 overflows once shown in a zone or moved by an
#: hour, which made every later read of its calendar fail.
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)
EARLIEST_MOMENT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
#: Exclusive: the first instant after LATEST_DATE.
END_MOMENT = dt.datetime(2101, 1, 1, tzinfo=dt.UTC)
DATE_RANGE_TEXT = f"between {EARLIEST_DATE} and {LATEST_DATE}"

#: pydantic error type of an out-of-range date; clients (and the fuzz suite) can tell it from
#: a malformed value.
DATE_OUT_OF_RANGE = "date_out_of_range"


def no_nul(value: str) -> str:
    """`value` unchanged, or ValueError when it holds a NUL character (PostgreSQL text cannot)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def no_nul_or_none(value: str | None) -> str | None:
    """`no_nul` for an optional field: None passes through."""
    return None if value is None else no_nul(value)


def no_nul_anywhere(value: Any) -> Any:
    """`value` unchanged, or ValueError when any string in it (dict keys included) holds NUL.

    For free-form JSON fields (a calendar's `brief`) that no per-field type covers."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            no_nul(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
    return value


def bounded_json(value: Any, *, max_depth: int = 16, max_nodes: int = 2000) -> Any:
    """`value` unchanged when its nesting and size are modest, else ValueError.

    Free-form JSON is stored and re-serialised on every read: a 10,000-deep nesting or a
    million members would cost every later read (or hit the recursion limit, a 500)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if depth > max_depth:
            raise ValueError(f"must not nest deeper than {max_depth} levels")
        if nodes > max_nodes:
            raise ValueError(f"must hold at most {max_nodes} values")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return value


@dataclass(frozen=True)
class NoNul:
    """Annotation: refuse NUL characters, and say so in the JSON schema (`pattern`)."""

    def __get_pydantic_core_schema__(self, source: Any,
                                     handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(no_nul, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault("pattern", NO_NUL_PATTERN)
        return json_schema


#: One hashtag as a user may send it, before it is cleaned of its `#`.
Hashtag = Annotated[str, StringConstraints(min_length=1, max_length=100), NoNul()]

#: An IANA zone name as a field type (the name is checked against tzdata by the schema).
ZoneName = Annotated[str, StringConstraints(min_length=1, max_length=64), NoNul()]


def offset_or_none(value: dt.datetime | None,
                   message: str = OFFSET_WITH_EXAMPLE) -> dt.datetime | None:
    """`value` unchanged when it is None or carries a UTC offset, else ValueError(`message`)."""
    if value is not None and value.tzinfo is None:
        raise ValueError(message)
    return value


def date_in_range(value: dt.date) -> dt.date:
    """`value` unchanged when it lies in the supported range, else a `date_out_of_range` error."""
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise PydanticCustomError(DATE_OUT_OF_RANGE, "must be a date {range}",
                                  {"range": DATE_RANGE_TEXT})
    return value


def moment_in_range(value: dt.datetime | None) -> dt.datetime | None:
    """An aware instant in the supported range (None passes), else a `date_out_of_range` error.

    Aware datetimes compare by instant without overflowing, so year 1 at +14:00 is safe here."""
    if value is None or value.tzinfo is None:
        return value
    if not EARLIEST_MOMENT <= value < END_MOMENT:
        raise PydanticCustomError(DATE_OUT_OF_RANGE, "must be an instant {range} (UTC)",
                                  {"range": DATE_RANGE_TEXT})
    return value
