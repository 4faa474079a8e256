"""The ICS feed's conditional GET: a 304 costs one small query, not a render.

Calendar apps poll a feed every few minutes and almost always get "unchanged". The validators
are therefore answered from a calendar *revision* (one aggregate query: the calendar row, entry
count, sum of entry versions, newest update and insert; see `calendars.service`), never from
the entries:

* `ETag` stays the sha256 of the exact bytes (a strong validator). The ETag of each revision
  already rendered in this process is remembered (`EtagCache`, bounded LRU): a poll whose
  `If-None-Match` names it is answered 304 after the revision query alone. A revision this
  process has not rendered yet (a change, a restart, another replica) is rendered once, then
  remembered.
* `Last-Modified` is the revision's newest timestamp; `If-Modified-Since` (used only when
  `If-None-Match` is absent, RFC 9110 §13.2.2) is answered 304 from it. It is not sent while the
  newest change is less than a second old, since a second change within the same second would
  carry the same HTTP date (RFC 9110 §8.8.2.2).
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections import OrderedDict
from collections.abc import Hashable

#: Revisions whose ETag is remembered (one entry is ~200 bytes; the least recent goes first).
ETAG_CACHE_SIZE = 4096


class EtagCache:
    """The ETag each calendar revision rendered to, in this process."""

    def __init__(self, size: int = ETAG_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, str] = OrderedDict()

    def get(self, key: Hashable) -> str | None:
        """The remembered ETag of this revision, if it was rendered here."""
        etag = self._items.get(key)
        if etag is not None:
            self._items.move_to_end(key)
        return etag

    def put(self, key: Hashable, etag: str) -> None:
        """Remember a rendered revision's ETag."""
        self._items[key] = etag
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


def etag_matches(header: str | None, etag: str) -> bool:
    """Weak comparison of an `If-None-Match` list with an ETag (`*` matches any)."""
    if not header:
        return False
    for candidate in header.split(","):
        value = candidate.strip()
        if value == "*" or value.removeprefix("W/") == etag:
            return True
    return False


def http_date(moment: dt.datetime) -> str:
    """An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`)."""
    return email.utils.format_datetime(moment.astimezone(dt.UTC), usegmt=True)


def parse_http_date(value: str | None) -> dt.datetime | None:
    """An HTTP date header as an aware datetime; None when absent or not a date."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def last_modified_header(last_modified: dt.datetime, now: dt.datetime) -> str | None:
    """The `Last-Modified` value, or None while the newest change is under a second old."""
    if now - last_modified < dt.timedelta(seconds=1):
        return None
    return http_date(last_modified)


def not_modified(if_none_match: str | None, if_modified_since: str | None, etag: str | None,
                 last_modified: dt.datetime) -> bool | None:
    """Whether the client's copy is current: True (304), False (send it), None (the answer
    needs the ETag, which only a render gives)."""
    if if_none_match is not None:
        return None if etag is None else etag_matches(if_none_match, etag)
    since = parse_http_date(if_modified_since)
    if since is None:
        return False
    return last_modified.replace(microsecond=0) <= since
