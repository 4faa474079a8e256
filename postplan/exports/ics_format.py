"""RFC 5545 exports built with `icalendar`: one VEVENT per entry, a VTIMEZONE per zone used.

Events are written line by line with icalendar's folding, not as `icalendar.Event` objects:
the object model costs ~200 µs per event, which would put 10,000 entries over the 1 s budget.
The VTIMEZONE components come from `icalendar.Timezone.from_tzid`, limited to the dates the
entries span so the output depends only on the saved entries.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

from icalendar import Timezone

from postplan.core.validators import EARLIEST_DATE, LATEST_DATE
from postplan.core.zones import CANONICAL_ZONES
from postplan.exports.records import STORED, ExportCalendar, ExportEntry
from postplan.exports.text import post_text, summary

PRODID = "-//postplan//calendar export 1//EN"
#: How long an entry's event lasts in a calendar app (a post is a moment, not a meeting).
EVENT_DURATION = "PT15M"
#: Zones described by VTIMEZONE blocks in one file; entries in further zones start in UTC
#: (the same instant, shown in the reader's zone). A VTIMEZONE costs milliseconds per zone and
#: decade, so an imported calendar spread over all ~600 zones and a century made one export (and
#: every feed poll) cost seconds of CPU. Real calendars use a handful of zones.
MAX_VTIMEZONES = 24

UTC_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "GMT", "Etc/GMT"})
#: TEXT values may not carry control characters other than HTAB (RFC 5545 §3.3.11).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def ical_text(value: str) -> str:
    """Escape a TEXT value. CR and CRLF become LF (TEXT has no CR); other controls are dropped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", value)
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 sequence (RFC 5545 §3.1).

    Same rule as `icalendar.parser.foldline`, but slicing bytes instead of walking characters,
    which is what makes long non-ASCII captions cheap.
    """
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    pieces: list[bytes] = []
    start, width, end = 0, 75, len(raw)
    while end - start > width:
        cut = start + width
        while raw[cut] & 0xC0 == 0x80:  # a continuation byte: back off to the char's start
            cut -= 1
        pieces.append(raw[start:cut])
        start, width = cut, 74  # continuation lines start with a space
    pieces.append(raw[start:])
    return b"\r\n ".join(pieces).decode("utf-8")


def category(value: str) -> str:
    """A CATEGORIES value without commas: icalendar, Outlook and others split on a comma even
    when it is escaped, so `Tips, tricks` would become two categories."""
    return " ".join(value.replace(",", " ").split())


def _line(name: str, value: str) -> str:
    return fold(f"{name}:{value}") + "\r\n"


def _ambiguous(local: dt.datetime) -> bool:
    """True for a wall time that occurs twice (the hour repeated when DST ends): `TZID` plus a
    local time would name the first occurrence, so such a start is written in UTC instead."""
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


def _utc_stamp(value: dt.datetime) -> str:
    v = value.astimezone(dt.UTC)
    # Spelled out: strftime's %Y drops leading zeros before year 1000 on some platforms.
    return f"{v.year:04d}{v.month:02d}{v.day:02d}T{v.hour:02d}{v.minute:02d}{v.second:02d}Z"


def _zone_range_ok(zone: str, day: dt.date) -> bool:
    """Whether a VTIMEZONE can describe `zone` around `day`: a canonical name, a supported
    date (a row stored before dates were bounded is written in UTC instead)."""
    return zone in CANONICAL_ZONES and EARLIEST_DATE <= day <= LATEST_DATE


@lru_cache(maxsize=1024)  # more than tzdata has zones: an export in every zone stays cached
def vtimezone(tzid: str, first: dt.date, last: dt.date) -> bytes:
    """The VTIMEZONE for `tzid`, covering `first`..`last` (deterministic for a given range)."""
    return bytes(Timezone.from_tzid(tzid, first_date=first, last_date=last).to_ical())


class IcsWriter:
    """VCALENDAR with X-WR-CALNAME; VTIMEZONEs go first, so the prefix is built last."""

    extension = "ics"
    media_type = "text/calendar; charset=utf-8"

    def __init__(self, calendar: ExportCalendar) -> None:
        self._calendar = calendar
        self._ranges: dict[str, tuple[dt.date, dt.date]] = {}

    def entry(self, e: ExportEntry) -> bytes:
        local = e.scheduled_at
        if e.timezone in UTC_ZONES or not _zone_range_ok(e.timezone, local.date()) \
                or (e.timezone not in self._ranges and len(self._ranges) >= MAX_VTIMEZONES) \
                or _ambiguous(local):
            start = _line("DTSTART", _utc_stamp(local))
        else:
            day = local.date()
            seen = self._ranges.get(e.timezone)
            if seen is None:
                self._ranges[e.timezone] = (day, day)
            elif day < seen[0] or day > seen[1]:
                self._ranges[e.timezone] = (min(seen[0], day), max(seen[1], day))
            start = _line(f"DTSTART;TZID={e.timezone}", local.strftime("%Y%m%dT%H%M%S"))
        stamp = _utc_stamp(e.updated_at)
        categories = ",".join(ical_text(category(c)) for c in (e.pillar, e.format) if c)
        parts = [
            "BEGIN:VEVENT\r\n",
            _line("UID", f"{e.id}@postplan"),
            _line("DTSTAMP", stamp),
            _line("LAST-MODIFIED", stamp),
            start,
            _line("DURATION", EVENT_DURATION),
            _line("SUMMARY", ical_text(summary(e))),
        ]
        description = post_text(e)
        if description:
            parts.append(_line("DESCRIPTION", ical_text(description)))
        if categories:
            parts.append(_line("CATEGORIES", categories))
        # Uploaded files by id, in order (a hosted URL stays in the entry's JSON/CSV forms).
        parts.extend(_line("X-POSTPLAN-MEDIA-ID", ref) for kind, ref in e.media if kind == STORED)
        parts.append(_line("SEQUENCE", str(max(e.version - 1, 0))))
        parts.append("TRANSP:TRANSPARENT\r\n")
        parts.append("END:VEVENT\r\n")
        return "".join(parts).encode("utf-8")

    def prefix(self) -> bytes:
        head = "".join([
            "BEGIN:VCALENDAR\r\n",
            "VERSION:2.0\r\n",
            _line("PRODID", PRODID),
            "CALSCALE:GREGORIAN\r\n",
            "METHOD:PUBLISH\r\n",
            _line("X-WR-CALNAME", ical_text(self._calendar.name)),
            _line("X-WR-TIMEZONE", self._calendar.timezone),
            # Subscribed calendars re-fetch at this pace (Apple, Outlook); ETag makes it cheap.
            "REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n",
            "X-PUBLISHED-TTL:PT1H\r\n",
        ]).encode("utf-8")
        zones = b"".join(
            vtimezone(tzid, first, last + dt.timedelta(days=1))
            for tzid, (first, last) in sorted(self._ranges.items())
        )
        return head + zones

    def suffix(self, count: int) -> bytes:
        return b"END:VCALENDAR\r\n"
