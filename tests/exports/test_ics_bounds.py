"""An ICS export describes at most MAX_VTIMEZONES zones: a calendar spread over hundreds of zones
(an import can do that) made every export and feed poll build hundreds of VTIMEZONEs."""

from __future__ import annotations

import datetime as dt

import httpx
import icalendar
import pytest

from postplan.core.zones import CANONICAL_ZONES
from postplan.exports.ics_format import MAX_VTIMEZONES
from tests.exports.factories import seed_calendar
from tests.exports.parsing import icalendar_events

pytestmark = pytest.mark.timeout(90)

ZONES = sorted(z for z in CANONICAL_ZONES if "/" in z and not z.startswith("Etc/"))[:80]
START = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


async def test_many_zones_cost_a_bounded_number_of_vtimezones(live_client: httpx.AsyncClient,
                                                              db_url: str) -> None:
    seeded = await seed_calendar(db_url, entries=len(ZONES), timezones=ZONES, start=START,
                                 texts=["t"])
    res = await live_client.post(f"/v1/calendars/{seeded.calendar_id}/export",
                                 json={"format": "ics"})
    assert res.status_code == 200, res.text
    calendar = icalendar.Calendar.from_ical(res.content)
    zones = [z["TZID"] for z in calendar.walk("VTIMEZONE")]
    assert len(zones) == MAX_VTIMEZONES
    events = icalendar_events(res.content)
    assert len(events) == len(ZONES)
    # Every event is still at its exact instant, whether written with a TZID or in UTC.
    starts = sorted(e.decoded("DTSTART").astimezone(dt.UTC) for e in events)
    assert starts == [START + dt.timedelta(hours=7 * i) for i in range(len(ZONES))]
    in_utc = [e for e in events if "TZID" not in e["DTSTART"].params]
    assert len(in_utc) >= len(ZONES) - MAX_VTIMEZONES
