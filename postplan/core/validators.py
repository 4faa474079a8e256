"""Field checks that every input schema applies the same way (manual edits, imports, briefs).

Plain functions raising `ValueError`, so pydantic `field_validator`s can call them and report
the message under the field's name, plus the annotated types that carry them together with the
limit the OpenAPI document shows (`maxLength`, a NUL-free `pattern`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from postplan.core.zones import CANONICAL_ZONES, MAX_ZONE_LENGTH, check_zone

#: The OpenAPI form of "no NUL character": PostgreSQL `text` and `jsonb` cannot hold U+0000, so
#: such a value would be accepted on SQLite and fail on Postgres; it is refused on both.
NO_NUL_PATTERN = r"^[^\x00]*$"
#: A character that is not a space in every regex engine that reads our patterns: pydantic's
#: (Rust `regex`, where U+0085 is a space), JSON Schema's (ECMA, where U+FEFF is one) and
#: Python's (where U+001C-U+001F are). A bare `\S` differs between them, so a client (or a
#: fuzzer) reading the OpenAPI pattern could send a value the server then refuses.
NOT_SPACE = r"[^\s\x1c-\x1f\x85\ufeff]"
#: An absolute http(s) URL with no space of any kind in it.
HTTP_URL_PATTERN = rf"^https?://{NOT_SPACE}+$"

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
#: pydantic error type of values that are each valid but do not go together (two pillars that
#: differ only in case, a bulk layout for a JSON export): what a JSON schema cannot say.
CONFLICTING_FIELDS = "conflicting_fields"


def conflict(message: str) -> PydanticCustomError:
    """A `conflicting_fields` validation error with `message`."""
    return PydanticCustomError(CONFLICTING_FIELDS, message)


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


#: Limits of free-form JSON (a calendar's stored `brief`); the OpenAPI `JsonValue` component
#: states the per-value ones (core/openapi.py), depth and total size are checked here only.
JSON_MAX_DEPTH = 16
JSON_MAX_NODES = 2000
JSON_MAX_TEXT = 2000
JSON_MAX_KEY = 200
JSON_MAX_ITEMS = 100
JSON_MAX_MEMBERS = 64


def bounded_json(value: Any) -> Any:
    """`value` unchanged when its nesting and size are modest, else ValueError.

    Free-form JSON is stored and re-serialised on every read: a 10,000-deep nesting or a
    million members would cost every later read (or hit the recursion limit, a 500)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if depth > JSON_MAX_DEPTH:
            raise ValueError(f"must not nest deeper than {JSON_MAX_DEPTH} levels")
        if nodes > JSON_MAX_NODES:
            raise ValueError(f"must hold at most {JSON_MAX_NODES} values")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("must hold JSON numbers only (not NaN or Infinity)")
        if isinstance(item, str) and len(item) > JSON_MAX_TEXT:
            raise ValueError(f"must hold strings of at most {JSON_MAX_TEXT} characters")
        if isinstance(item, dict):
            if len(item) > JSON_MAX_MEMBERS:
                raise ValueError(f"must hold objects of at most {JSON_MAX_MEMBERS} members")
            if any(len(k) > JSON_MAX_KEY for k in item):
                raise ValueError(f"must hold keys of at most {JSON_MAX_KEY} characters")
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            if len(item) > JSON_MAX_ITEMS:
                raise ValueError(f"must hold arrays of at most {JSON_MAX_ITEMS} items")
            stack.extend((v, depth + 1) for v in item)
    return value


#: The schema of one free-form JSON value, as the OpenAPI component `JsonValue` (recursive).
JSON_VALUE_REF = {"$ref": "#/components/schemas/JsonValue"}
JSON_VALUE_SCHEMA: dict[str, Any] = {
    "description": "Any JSON value without NUL characters, NaN or Infinity, nested at most "
                   f"{JSON_MAX_DEPTH} deep with at most {JSON_MAX_NODES} values in all",
    "anyOf": [
        {"type": "string", "maxLength": JSON_MAX_TEXT, "pattern": NO_NUL_PATTERN},
        {"type": "number"}, {"type": "boolean"}, {"type": "null"},
        {"type": "array", "maxItems": JSON_MAX_ITEMS, "items": JSON_VALUE_REF},
        {"type": "object", "maxProperties": JSON_MAX_MEMBERS,
         "propertyNames": {"maxLength": JSON_MAX_KEY, "pattern": NO_NUL_PATTERN},
         "additionalProperties": JSON_VALUE_REF},
    ],
}
#: Marks a field holding a free-form JSON object; the OpenAPI document gives it
#: JSON_OBJECT_SCHEMA (pydantic itself cannot carry a reference to a component).
JSON_OBJECT_MARKER = "x-json-object"
#: The same, for a field holding a JSON object.
JSON_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object", "maxProperties": JSON_MAX_MEMBERS,
    "propertyNames": {"maxLength": JSON_MAX_KEY, "pattern": NO_NUL_PATTERN},
    "additionalProperties": JSON_VALUE_REF,
}


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


@dataclass(frozen=True)
class Documented:
    """Annotation: show `pattern` in the JSON schema; the model's own validator enforces it
    (so the error names the list field rather than one item, for instance)."""

    pattern: str | None = None
    max_length: int | None = None

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        if self.pattern is not None:
            json_schema["pattern"] = self.pattern
        if self.max_length is not None:
            json_schema["maxLength"] = self.max_length
        return json_schema


@dataclass(frozen=True)
class _ZoneEnum:
    """Annotation: the JSON schema lists the accepted zone names (core/openapi.py shares one
    copy of the list through the marker)."""

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.pop("pattern", None)
        json_schema["enum"] = sorted(CANONICAL_ZONES)
        json_schema[ZONE_MARKER] = True
        return json_schema


#: Marks the schema of a zone name, so one shared component can replace the 600-name list.
ZONE_MARKER = "x-iana-time-zone"

#: An IANA zone name from tzdata's list (see core/zones.py), as a field type.
ZoneName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ZONE_LENGTH), NoNul(),
                     AfterValidator(check_zone), _ZoneEnum()]


#: Every character Python's `str.isspace` (or JSON Schema's `\s`) calls white space, spelled
#: out because the two disagree (U+001C–U+001F, U+0085, U+FEFF).
_SPACES = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
#: One hashtag: one word, an optional leading `#`, no NUL.
HASHTAG_PATTERN = rf"^#?[^#\x00{_SPACES}]+$"
#: Text with something besides white space in it, and no NUL.
NOT_BLANK_PATTERN = rf"^[^\x00]*[^\x00{_SPACES}][^\x00]*$"

def is_blank(value: str) -> bool:
    """True when `value` holds nothing but white space (by the pattern's own definition)."""
    return re.search(rf"[^{_SPACES}]", value) is None


#: A NUL-free string that is not only white space (the schema's pattern says so too); the
#: model strips it. Documented rather than enforced here: the model's own validator names
#: the problem ("must not be blank").
NotBlankText = Documented(NOT_BLANK_PATTERN)

#: One hashtag as a user may send it, before it is cleaned of its `#` (see `clean_hashtags`).
Hashtag = Annotated[str, StringConstraints(min_length=1, max_length=100),
                    Documented(HASHTAG_PATTERN)]


def clean_hashtags(values: list[str]) -> list[str]:
    """Hashtags without their `#`, or ValueError naming the first one that is not one word.

    One rule for edits and imports; the same pattern the OpenAPI document shows."""
    cleaned: list[str] = []
    for raw in values:
        if not re.fullmatch(HASHTAG_PATTERN, raw):
            raise ValueError(f"hashtag {raw!r} must be one word without '#' or spaces")
        cleaned.append(raw.removeprefix("#"))
    return cleaned

def _number_not_text(value: Any) -> Any:
    """JSON numbers only: pydantic would also read "30" or `true` as a number."""
    if isinstance(value, bool | str | bytes):
        raise ValueError("must be a JSON number")
    return value


#: Put after an int's bounds: `Annotated[int, Field(ge=1), NOT_TEXT]` reads a JSON whole number,
#: `30` or `30.0` (JSON Schema's "integer"), never `"30"` or `true`. (After, so the bounds stay in
#: the int schema and the JSON schema shows them as minimum/maximum.)
NOT_TEXT = BeforeValidator(_number_not_text)


#: The longest ISO 8601 text a date or date-time input may be (with an offset and microseconds
#: it is 32 characters).
MAX_TIME_TEXT = 40


def _time_as_text(value: Any) -> Any:
    """JSON carries dates and times as ISO 8601 text; pydantic would also read a bare number as
    seconds since 1970, which no client means (and which the schema does not allow)."""
    if isinstance(value, bool | int | float):
        raise ValueError("must be an ISO 8601 string")
    if isinstance(value, str) and len(value) > MAX_TIME_TEXT:
        raise ValueError(f"must be an ISO 8601 date or time (at most {MAX_TIME_TEXT} characters)")
    return value


#: What the supported years look like at the start of an ISO 8601 date (the exact bounds, in
#: UTC, are checked by `moment_in_range`).
YEAR_PATTERN = r"^(20[0-9][0-9]|2100)-"

#: A date-time input: ISO 8601 text (or an already parsed datetime), never a number.
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_time_as_text),
                        Documented(YEAR_PATTERN, MAX_TIME_TEXT)]
#: As `IsoDateTime`, with the year left out of the schema (still checked by `moment_in_range`):
#: for a *required* date-time, where a year pattern on top of `format: date-time` makes valid
#: examples too rare for a schema-driven client or fuzzer to produce.
IsoDateTimeAnyYear = Annotated[dt.datetime, BeforeValidator(_time_as_text),
                               Documented(None, MAX_TIME_TEXT)]
#: A date input: ISO 8601 text (or an already parsed date), never a number.
IsoDate = Annotated[dt.date, BeforeValidator(_time_as_text), Documented(None, MAX_TIME_TEXT)]


def offset_or_none(value: dt.datetime | None,
                   message: str = OFFSET_WITH_EXAMPLE) -> dt.datetime | None:
    """`value` unchanged when it is None or carries a UTC offset, else ValueError(`message`)."""
    if value is not None and value.tzinfo is None:
        raise ValueError(message)
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
