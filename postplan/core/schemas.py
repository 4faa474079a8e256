"""Pydantic bases for the HTTP boundary: camelCase JSON, strict input, generic pages."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

T = TypeVar("T")


class Schema(BaseModel):
    """Output model: camelCase on the wire, built from ORM objects or dicts."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True,
                              from_attributes=True)


class InputSchema(BaseModel):
    """Input model: camelCase on the wire, unknown fields refused so typos are not silently lost."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              str_strip_whitespace=False)


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
