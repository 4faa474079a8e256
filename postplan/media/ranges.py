"""The `Range` header of a content request (RFC 9110 §14): one byte range, or the whole file.

A single range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) is served as 206; a range starting at or
beyond the end is 416 `range_not_satisfiable` with `Content-Range: bytes */size`; a header this
parser does not take (several ranges, another unit, garbage) is ignored and the whole file is
sent (200), which RFC 9110 allows."""

from __future__ import annotations

import re

from postplan.media.errors import RangeNotSatisfiable

_SINGLE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) of the requested range; None for the whole file."""
    if not header:
        return None
    match = _SINGLE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last n bytes
        length = int(last)
        if length == 0:
            raise _unsatisfiable(size)
        return max(size - length, 0), size
    start = int(first)
    end = size if not last else min(int(last) + 1, size)
    if start >= size:
        raise _unsatisfiable(size)
    if end <= start:
        return None  # last < first: syntactically invalid, so ignored
    return start, end


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(f"the file has {size} bytes",
                               headers={"Content-Range": f"bytes */{size}"})
