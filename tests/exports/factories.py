"""Seed calendars, runs and entries straight into a database for export tests.

The generation endpoint is not needed (nor used): rows are inserted with the models, through a
sessionmaker, in one transaction per call.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from postplan.core.db import create_engine, create_sessionmaker
from postplan.models import Calendar, CalendarEntry, CalendarRun

#: Text that breaks naive writers: separators, quotes, newlines, emoji, right-to-left scripts,
#: formula triggers, a leading quote, a backslash, tabs and CRLF.
TRICKY_TEXTS: tuple[str, ...] = (
    'Commas, "double quotes", and \'single\'; semicolons; colons: done',
    "Line one\nline two\r\nline three\rline four",
    "Emoji 😀🎉👩‍👩‍👧 and flags 🇯🇵 and a skin tone 👍🏽",
    "مرحبا بكم في قناتنا — تابعونا للمزيد",
    "שלום עולם, ברוכים הבאים",
    "=HYPERLINK(\"http://evil.test\",\"click\")",
    "+1 555 0100 call us",
    "-5% off today",
    "@everyone look",
    "\tTab first",
    "'quoted start",
    "C:\\path\\to\\file and 50% off",
    "Mixed עברית and English, with العربية too",
)

FIXED_UPDATED = dt.datetime(2026, 11, 20, 9, 30, 15, 123456, tzinfo=dt.UTC)


@dataclass
class Seeded:
    calendar_id: uuid.UUID
    run_id: uuid.UUID
    user_id: str
    entry_ids: list[uuid.UUID] = field(default_factory=list)


def entry_values(i: int, *, timezone: str, start: dt.datetime,
                 texts: Sequence[str]) -> dict[str, Any]:
    """Deterministic field values for the i-th entry (channel alternates)."""
    channel = "tiktok" if i % 2 == 0 else "instagram"
    text = texts[i % len(texts)] if texts else f"Caption {i}"
    return {
        "channel": channel,
        "format": "video" if channel == "tiktok" else ("reel" if i % 3 else "carousel"),
        "scheduled_at": start + dt.timedelta(hours=7 * i),
        "timezone": timezone,
        "pillar": "Tips, tricks" if i % 2 else "Behind the scenes",
        "hook": f"Hook {i}: {text}"[:300],
        "caption": f"{text}\n\nMore words for entry {i}.",
        "hashtags": ["coffee", f"tag{i}", "café"],
        "call_to_action": "Follow for more!" if i % 2 else "",
        "asset_notes": f"Notes {i}: {text}"[:2000],
        "media": ([{"url": f"https://cdn.example.test/{i}.jpg", "type": "image"}]
                  if i % 2 else []),
    }


async def seed_calendar(
    db_url: str,
    *,
    user_id: str = "local",
    entries: int = 3,
    timezone: str = "Europe/Paris",
    name: str = "Acme Coffee — Winter",
    texts: Sequence[str] = TRICKY_TEXTS,
    start: dt.datetime | None = None,
    timezones: Sequence[str] | None = None,
) -> Seeded:
    """One calendar with one completed run holding `entries` entries."""
    engine = create_engine(db_url)
    maker = create_sessionmaker(engine)
    start = start or dt.datetime(2026, 12, 1, 17, 0, tzinfo=dt.UTC)
    try:
        async with maker() as session:
            run_id = uuid.uuid4()
            # latest_run_id set up front: a later UPDATE would move updated_at (onupdate).
            calendar = Calendar(user_id=user_id, name=name, timezone=timezone,
                                latest_run_id=run_id,
                                brief={"brand": "Acme Coffee", "startDate": "2026-12-01",
                                       "language": "ar"},
                                created_at=FIXED_UPDATED, updated_at=FIXED_UPDATED)
            session.add(calendar)
            await session.flush()
            run = CalendarRun(id=run_id, calendar_id=calendar.id, user_id=user_id, mode="planner",
                              status="completed", brief=calendar.brief,
                              expected_entries=entries, entry_count=entries)
            session.add(run)
            await session.flush()
            seeded = Seeded(calendar.id, run.id, user_id)
            rows = []
            for i in range(entries):
                zone = timezones[i % len(timezones)] if timezones else timezone
                values = entry_values(i, timezone=zone, start=start, texts=texts)
                row = CalendarEntry(calendar_id=calendar.id, run_id=run.id, user_id=user_id,
                                    seq=i, version=1, edited=False,
                                    created_at=FIXED_UPDATED, updated_at=FIXED_UPDATED,
                                    **values)
                rows.append(row)
            session.add_all(rows)
            await session.commit()
            seeded.entry_ids = [r.id for r in rows]
            return seeded
    finally:
        await engine.dispose()
