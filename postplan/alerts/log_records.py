"""Reading log records for the offline feed: timestamps, numbers, the stream-end
events and the latency-watched routes.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

#: Log events that end an SSE stream (the outcome is in `outcome`, else `status`).
SSE_END_EVENTS = frozenset({"sse.stream_end", "sse.stream.finished", "sse.stream.end"})


def as_number(value: Any) -> float:
    """A numeric log field as a float; anything else (bools included) counts as 0."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


_PUBLISH_PATH = re.compile(r"^/v1/calendars/[^/]+/publish$")
_EXPORT_PATH = re.compile(r"^/v1/calendars/[^/]+/export$")


def latency_endpoint(method: str, path: str) -> str | None:
    """`publish` / `export` for the two latency-watched routes, else None."""
    if method != "POST":
        return None
    if _PUBLISH_PATH.match(path):
        return "publish"
    if _EXPORT_PATH.match(path):
        return "export"
    return None


def parse_ts(value: Any) -> float | None:
    """Unix seconds from an ISO 8601 string or a number."""
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()
