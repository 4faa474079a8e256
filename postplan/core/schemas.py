"""Pydantic bases for the HTTP boundary: camelCase JSON, strict input, generic pages."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel

from postplan.core.validators import no_nul_anywhere

T = TypeVar("T")


class Schema(BaseModel):
    """Output model: camelCase on the wire, built from ORM objects or dicts."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True,
                              from_attributes=True)


class InputSchema(BaseModel):
    """Input model: camelCase on the wire, unknown fields refused so typos are not silently lost.

    No string anywhere in an input may hold NUL (U+0000): PostgreSQL `text` and `jsonb` cannot
    store it, so it would be accepted on SQLite and fail on Postgres — worse, a database error
    mid-request can be mistaken for an outage. Typed fields say so in their schema (`NoNul`);
    this catch-all covers free-form JSON fields too, for every input model at once.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              str_strip_whitespace=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, BaseModel):  # validated by its own class
            return value
        return no_nul_anywhere(value)


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
