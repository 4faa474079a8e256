"""The notifications outbox: the one module other domains use to record a user's event.

A domain writes the event row in the same transaction as the state change it reports (the
publish worker folds it into its fenced UPDATE; a run's end adds it before its commit), so an
event exists exactly when the change does. Delivery to webhooks happens later, from the table,
in its own loop (`notifications.delivery`): recording an event costs one INSERT and never waits
on a webhook.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from postplan.models import Notification

notifications = cast(Table, Notification.__table__)

#: Every event a user can be told about (DESIGN §9), in the order the docs list them.
EVENTS: tuple[str, ...] = (
    "intent.published", "intent.failed", "intent.needs_reauth", "intent.unknown",
    "run.completed", "run.partial", "run.failed",
)

#: Intent statuses that are news to the user, and the event each one is.
INTENT_EVENTS: Mapping[str, str] = {
    "published": "intent.published", "failed": "intent.failed",
    "needs_reauth": "intent.needs_reauth", "unknown": "intent.unknown",
}

#: Run statuses that are news, and their events.
RUN_EVENTS: Mapping[str, str] = {
    "completed": "run.completed", "partial": "run.partial", "failed": "run.failed",
}


def intent_note(row: Any, status: str, values: Mapping[str, Any],
                now: dt.datetime) -> dict[str, Any] | None:
    """The notification row for an intent moving to `status` (None when that is no news).

    `row` is the intent as the mover knows it; `values` what the move writes (its error and
    platform post id win over the row's)."""
    event = INTENT_EVENTS.get(status)
    if event is None:
        return None
    post_id = values.get("platform_post_id", getattr(row, "platform_post_id", None))
    error = values["error"] if "error" in values else getattr(row, "error", None)
    data = {
        "intentId": str(row.id), "calendarId": str(row.calendar_id),
        "entryId": str(row.entry_id), "channel": row.channel, "status": status,
        "platformPostId": post_id, "error": error if status != "published" else None,
    }
    return note_row(row.user_id, event, data, now=now, calendar_id=row.calendar_id,
                    intent_id=row.id)


def run_note(user_id: str, run_id: uuid.UUID, calendar_id: uuid.UUID, status: str,
             entry_count: int | None, error: Mapping[str, Any] | None,
             now: dt.datetime) -> dict[str, Any] | None:
    """The notification row for a run that ended in `status` (None when that is no news)."""
    event = RUN_EVENTS.get(status)
    if event is None:
        return None
    data = {"runId": str(run_id), "calendarId": str(calendar_id), "status": status,
            "entryCount": entry_count, "error": dict(error) if error else None}
    return note_row(user_id, event, data, now=now, calendar_id=calendar_id, run_id=run_id)


def note_row(user_id: str, event: str, data: dict[str, Any], *, now: dt.datetime,
             calendar_id: uuid.UUID | None = None, intent_id: uuid.UUID | None = None,
             run_id: uuid.UUID | None = None) -> dict[str, Any]:
    """One `notifications` row, ready for `record`."""
    return {"id": uuid.uuid4(), "user_id": user_id, "event": event, "calendar_id": calendar_id,
            "intent_id": intent_id, "run_id": run_id, "data": data, "created_at": now,
            "fanned_out_at": None}


async def record(bind: AsyncSession | AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Insert event rows in the caller's transaction (nothing when `rows` is empty)."""
    if rows:
        await bind.execute(insert(notifications), rows)
