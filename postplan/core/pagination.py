"""Keyset pagination: the opaque cursor, the `cursor` query parameter, and the SQL of a page.

Every paged listing orders by (an instant, a row id) and resumes after the last row it gave:
no OFFSET, so a page costs the same however deep it is, and rows written meanwhile neither
repeat nor go missing. A cursor is base64url of `<UTC instant>|<row id>`, without padding.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query
from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.orm import QueryableAttribute

from postplan.core.errors import AppError

__all__ = ["CURSOR_PATTERN", "MAX_CURSOR_LENGTH", "After", "Cursor", "InvalidCursor", "KeyColumn",
           "decode_cursor", "encode_cursor", "keyset_page", "split_page"]

R = TypeVar("R")
S = TypeVar("S", bound=Select[Any])

#: A column a listing is ordered by (a table column, or a mapped attribute).
KeyColumn = ColumnElement[Any] | QueryableAttribute[Any]

#: Where a page resumes: the (instant, id) of the last row of the previous page.
After = tuple[dt.datetime, uuid.UUID]

MAX_CURSOR_LENGTH = 200
#: What a cursor may hold on the wire (base64url without padding).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]*$"

#: The `cursor` query parameter of a paged listing: a previous page's `nextCursor`, verbatim.
Cursor = Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH, pattern=CURSOR_PATTERN,
                                     description="`nextCursor` of the previous page")]


class InvalidCursor(AppError):
    status_code = 422
    code = "invalid_cursor"
    title = "Invalid cursor"


def encode_cursor(moment: dt.datetime, row_id: uuid.UUID) -> str:
    """An opaque keyset cursor: base64url of `<UTC instant>|<row id>`."""
    raw = f"{moment.astimezone(dt.UTC).isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None) -> After | None:
    """The (instant, id) a cursor names; anything this service did not issue is a 422.

    Cursors are issued in UTC, and only UTC is accepted back: an instant at +14:00 in year 1
    used to overflow when the driver moved it to UTC, answering 500 instead of 422."""
    if not cursor:
        return None
    try:
        if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
            raise ValueError("not base64url")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, row_id = raw.partition("|")
        parsed = dt.datetime.fromisoformat(moment)
        if parsed.utcoffset() != dt.timedelta(0):
            raise ValueError("not UTC")
        return parsed, uuid.UUID(row_id)
    except (ValueError, UnicodeDecodeError, OverflowError, TypeError) as exc:
        raise InvalidCursor("the cursor is not one this service issued") from exc


def keyset_page(stmt: S, columns: tuple[KeyColumn, KeyColumn],
                after: After | None, limit: int | None, *, descending: bool = False) -> S:
    """`stmt` narrowed to the rows that come after `after` in `columns` order (ascending, or
    newest first with `descending`), ordered that way, at most `limit` rows (None: all)."""
    if after is not None:
        key = tuple_(*columns)
        stmt = stmt.where(key < after if descending else key > after)
    stmt = stmt.order_by(*(c.desc() for c in columns) if descending else columns)
    return stmt if limit is None else stmt.limit(limit)


def split_page(rows: Sequence[R], limit: int | None,
               key: Callable[[R], After]) -> tuple[Sequence[R], str | None]:
    """Rows fetched with `limit + 1`: the page, and the cursor of the next one (None on the
    last page, or when the listing is not limited)."""
    if limit is None or len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(*key(rows[-1]))
