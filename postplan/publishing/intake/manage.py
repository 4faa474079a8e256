"""Intents a person settles (DESIGN §9): cancel one that has not reached the platform, resolve
an `unknown` one by hand, retry a failed one; and cancel the pending intents of a deleted entry
or calendar.

Each change is one conditional UPDATE on the intent's current status (`… WHERE status IN (…)
RETURNING`), the same fence the worker's moves use (`worker.claims`): when a cancel and a
worker's `claimed → submitting` race, exactly one of the two UPDATEs matches the row, so the
intent is either cancelled or sent, never both, and the answer says which.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from postplan.core.db import begin_write
from postplan.core.errors import Conflict
from postplan.core.logging import get_logger
from postplan.notifications import outbox
from postplan.publishing.errors import IntentNotFound
from postplan.publishing.states import IntentStatus
from postplan.publishing.tables import attempts, intents

log = get_logger(__name__)
S = IntentStatus

#: What a person may cancel: nothing irreversible has happened yet. A `claimed` intent's
#: worker moves it to `submitting` with an UPDATE fenced on `status = 'claimed'`, so once the
#: cancel wins that UPDATE matches nothing and the worker sends nothing.
CANCELLABLE = (S.pending.value, S.claimed.value)
_RELEASE = {"claim_token": None, "claimed_by": None, "lease_expires_at": None}


class IntentNotCancellable(Conflict):
    code = "intent_not_cancellable"
    title = "The intent can no longer be cancelled"


class IntentNotUnknown(Conflict):
    code = "intent_not_unknown"
    title = "Only an unknown intent can be resolved"


class IntentNotRetryable(Conflict):
    code = "intent_not_retryable"
    title = "Only a failed live intent can be retried"


async def _current(session: AsyncSession, user_id: str, intent_id: uuid.UUID) -> Any:
    row = (await session.execute(select(intents).where(
        intents.c.id == intent_id, intents.c.user_id == user_id))).one_or_none()
    if row is None:
        raise IntentNotFound("publish intent not found")
    return row


def _attempt(row: Any, step: str, outcome: str, now: dt.datetime,
             detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "intent_id": row.id, "user_id": row.user_id,
            "attempt_no": row.attempts, "step": step, "outcome": outcome, "error": None,
            "detail": detail, "started_at": now, "finished_at": now}


async def cancel(session: AsyncSession, user_id: str, intent_id: uuid.UUID,
                 now: dt.datetime) -> Any:
    """Cancel an intent that has not reached the platform; the updated row.

    Already cancelled answers the row again (a repeated cancel is not an error). Any other
    status is 409 `intent_not_cancellable` with the status it has (`submitting`, `published`,
    …: it was sent, or is being sent)."""
    await begin_write(session)
    c = intents.c
    moved = (await session.execute(
        update(intents)
        .where(c.id == intent_id, c.user_id == user_id, c.dry_run.is_(False),
               c.status.in_(CANCELLABLE))
        .values(status=S.cancelled.value, run_after=None, updated_at=now,
                error={"code": "cancelled", "message": "cancelled by the user"}, **_RELEASE)
        .returning(*intents.c))).one_or_none()
    if moved is not None:
        await session.execute(insert(attempts), [_attempt(moved, "cancel", "cancelled", now)])
        log.info("publish.cancelled_by_user", intentId=str(intent_id), status="cancelled")
        return moved
    row = await _current(session, user_id, intent_id)
    if row.status == S.cancelled.value:
        return row
    raise IntentNotCancellable(
        f"the intent is {row.status}: it can no longer be cancelled",
        extra={"intentStatus": row.status, "sent": row.status in (
            S.submitting.value, S.processing.value, S.published.value, S.unknown.value)})


async def resolve(session: AsyncSession, user_id: str, intent_id: uuid.UUID, *, outcome: str,
                  platform_post_id: str | None, url: str | None, now: dt.datetime) -> Any:
    """A person settles an `unknown` intent: `published` (with the post's id/URL when known)
    or `not_published` (the intent ends `failed`, so the entry may be published again)."""
    await begin_write(session)
    c = intents.c
    if outcome == "published":
        values: dict[str, Any] = {"status": S.published.value, "error": None}
        if platform_post_id is not None:
            values["platform_post_id"] = platform_post_id
    else:
        values = {"status": S.failed.value,
                  "error": {"code": "not_published",
                            "message": "a person confirmed it was not published"}}
    moved = (await session.execute(
        update(intents)
        .where(c.id == intent_id, c.user_id == user_id, c.status == S.unknown.value)
        .values(**values, run_after=None, updated_at=now, **_RELEASE)
        .returning(*intents.c))).one_or_none()
    if moved is None:
        row = await _current(session, user_id, intent_id)
        raise IntentNotUnknown(f"the intent is {row.status}, not unknown",
                               extra={"intentStatus": row.status})
    detail = {"outcome": outcome, "platformPostId": platform_post_id, "url": url}
    await session.execute(insert(attempts), [_attempt(
        moved, "resolve", "published" if outcome == "published" else "not_published", now,
        detail)])
    note = outbox.intent_note(moved, moved.status, {}, now)
    await outbox.record(session, [note] if note else [])
    log.info("publish.resolved_by_user", intentId=str(intent_id), status=moved.status)
    return moved


async def retry(session: AsyncSession, user_id: str, intent_id: uuid.UUID,
                now: dt.datetime) -> Any:
    """Queue a failed live intent again: the same intent back to `pending`, due now (or at its
    scheduled time if that is later), its attempt log kept and a `retry` row added.

    Never a double post: an intent whose log holds a `published` outcome is refused, and the
    unique index on live intents per entry and channel refuses it when another publish of the
    entry is queued or live (409 `intent_not_retryable`)."""
    await begin_write(session)
    row = await _current(session, user_id, intent_id)
    if row.status != S.failed.value or row.dry_run or row.request is None:
        raise IntentNotRetryable(f"the intent is {row.status}; only a failed live intent "
                                 "can be retried", extra={"intentStatus": row.status})
    c, a = intents.c, attempts.c
    scheduled = row.run_after
    if row.when == "scheduled" and row.request.get("scheduled_at"):
        scheduled = dt.datetime.fromisoformat(str(row.request["scheduled_at"]))
    due = max(now, scheduled) if scheduled is not None else now
    published = exists().where(a.intent_id == c.id, a.outcome == "published")
    try:
        async with session.begin_nested():
            moved = (await session.execute(
                update(intents)
                .where(c.id == intent_id, c.user_id == user_id, c.status == S.failed.value,
                       ~published)
                .values(status=S.pending.value, error=None, attempts=0, run_after=due,
                        platform_handle=None, submitted_at=None, polls=0, updated_at=now,
                        **_RELEASE)
                .returning(*intents.c))).one_or_none()
    except IntegrityError:
        raise IntentNotRetryable("another publish of this entry is already queued or live",
                                 extra={"intentStatus": row.status, "reason": "already_queued"}
                                 ) from None
    if moved is None:
        raise IntentNotRetryable("the intent went live before; it is not sent again",
                                 extra={"intentStatus": row.status, "reason": "published_before"})
    await session.execute(insert(attempts), [_attempt(row, "retry", "requested", now)])
    log.info("publish.retry_by_user", intentId=str(intent_id), status="pending")
    return moved


async def cancel_pending(session: AsyncSession, user_id: str, *,
                         entry_ids: list[uuid.UUID] | None = None,
                         calendar_id: uuid.UUID | None = None, reason: str) -> int:
    """Cancel every pending (or claimed, not yet sent) live intent of these entries or of this
    calendar, in the caller's transaction; how many were cancelled."""
    c = intents.c
    stmt = update(intents).where(c.user_id == user_id, c.dry_run.is_(False),
                                 c.status.in_(CANCELLABLE))
    if entry_ids is not None:
        stmt = stmt.where(c.entry_id.in_(entry_ids))
    if calendar_id is not None:
        stmt = stmt.where(c.calendar_id == calendar_id)
    messages = {"entry_deleted": "the entry was deleted before it was published",
                "calendar_deleted": "the calendar was deleted before it was published"}
    done = (await session.execute(stmt.values(
        status=S.cancelled.value, run_after=None, updated_at=dt.datetime.now(dt.UTC),
        error={"code": reason, "message": messages.get(reason, reason)}, **_RELEASE,
    ).returning(c.id))).scalars().all()
    return len(done)
