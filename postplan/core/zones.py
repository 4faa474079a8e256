"""IANA time zones: which names are accepted, and showing a stored instant in its zone safely.

Only names from tzdata's own list are accepted. `zoneinfo.ZoneInfo` alone would also load
whatever the host's zoneinfo directory holds — `localtime` (the server's own zone, which differs
between machines), `right/…` (leap-second clocks that no calendar app understands), `posix/…`,
`posixrules` — so the same calendar would mean different instants on different hosts.
`Factory` is in tzdata's list but is a placeholder ("zone unset"), not a place.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache
from importlib import resources

#: Longest name tzdata has is 32 characters; this leaves room without allowing path-length junk.
MAX_ZONE_LENGTH = 64

_NOT_PLACES = frozenset({"Factory", "localtime", "posixrules"})
_HOST_PREFIXES = ("right/", "posix/")


def _tzdata_names() -> frozenset[str]:
    try:
        listing = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
        names = frozenset(listing.split())
    except (ModuleNotFoundError, FileNotFoundError, OSError):  # tzdata is a dependency; belt
        names = frozenset(zoneinfo.available_timezones())
    return frozenset(n for n in names
                     if n not in _NOT_PLACES and not n.startswith(_HOST_PREFIXES))


#: Every zone name a calendar or entry may carry.
CANONICAL_ZONES: frozenset[str] = _tzdata_names()


def check_zone(value: str) -> str:
    """`value` unchanged when it is a canonical IANA zone name that loads, else ValueError."""
    if len(value) > MAX_ZONE_LENGTH or value not in CANONICAL_ZONES:
        raise ValueError(f"{value[:MAX_ZONE_LENGTH]!r} is not a known IANA time zone "
                         "(e.g. Europe/Berlin, America/New_York, UTC)")
    try:
        load_zone(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"{value!r} is not a known IANA time zone") from exc
    return value


@lru_cache(maxsize=512)
def load_zone(name: str) -> zoneinfo.ZoneInfo:
    """A cached `ZoneInfo` (the lookup is measurable at 10,000 entries)."""
    return zoneinfo.ZoneInfo(name)


def zone_or_utc(name: str) -> dt.tzinfo:
    """The zone for a stored name; UTC when it cannot be loaded here.

    Stored rows were validated when written, but a row written before this check (or a zone
    that a tzdata update removed) must still be readable rather than fail every read."""
    if name not in CANONICAL_ZONES:  # e.g. `localtime`: this host's zone, not the writer's
        return dt.UTC
    try:
        return load_zone(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return dt.UTC


def shifted(value: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """`value + delta`, saturating at the ends of the calendar instead of raising OverflowError
    (a window around a stored instant, say, must not fail on a row from year 1)."""
    try:
        return value + delta
    except OverflowError:
        edge = dt.datetime.max if delta > dt.timedelta(0) else dt.datetime.min
        return edge.replace(tzinfo=value.tzinfo)


def in_zone(value: dt.datetime, name: str) -> dt.datetime:
    """A stored instant shown with its zone's offset; in UTC when that would overflow.

    Reads never fail on a stored value: an instant at the very ends of the calendar (written
    before dates were bounded) is shown in UTC instead of raising OverflowError."""
    try:
        return value.astimezone(zone_or_utc(name))
    except (OverflowError, ValueError):
        return value.astimezone(dt.UTC)
