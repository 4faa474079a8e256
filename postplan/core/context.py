"""Per-request correlation values, carried in contextvars so every log line can read them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog

#: The six fields every log line carries (docs/contract.md §6), null where one does not apply.
REQUIRED_LOG_FIELDS = ("requestId", "userId", "channel", "calendarId", "runId", "status")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def bind(**fields: Any) -> None:
    """Bind correlation fields (camelCase names) for the rest of this context."""
    structlog.contextvars.bind_contextvars(**fields)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Bind correlation fields for the duration of a block, then restore the previous values."""
    tokens = structlog.contextvars.bind_contextvars(**fields)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
