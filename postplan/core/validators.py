"""Field checks that every input schema applies the same way (manual edits, imports, briefs).

Plain functions raising `ValueError`, so pydantic `field_validator`s can call them and report
the message under the field's name.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import StringConstraints

#: One hashtag as a user may send it, before it is cleaned of its `#`.
Hashtag = Annotated[str, StringConstraints(min_length=1, max_length=100)]

#: The message for a timestamp without an offset, with an example of one that has it.
OFFSET_WITH_EXAMPLE = "must carry a UTC offset, e.g. 2026-12-01T18:00:00+01:00"


def no_nul(value: str) -> str:
    """`value` unchanged, or ValueError when it holds a NUL character (PostgreSQL text cannot)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def no_nul_or_none(value: str | None) -> str | None:
    """`no_nul` for an optional field: None passes through."""
    return None if value is None else no_nul(value)


def offset_or_none(value: dt.datetime | None,
                   message: str = OFFSET_WITH_EXAMPLE) -> dt.datetime | None:
    """`value` unchanged when it is None or carries a UTC offset, else ValueError(`message`)."""
    if value is not None and value.tzinfo is None:
        raise ValueError(message)
    return value
