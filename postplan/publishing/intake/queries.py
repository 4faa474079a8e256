"""Reading publish intents and their attempts, always scoped to one user."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from postplan.calendars import service as calendars
from postplan.core.errors import Unprocessable
from postplan.core.pagination import decode_cursor, keyset_page, split_page
from postplan.publishing.errors import IntentNotFound
from postplan.publishing.schemas import AttemptOut, IntentDetail, IntentOut
from postplan.publishing.states import IntentStatus
from postplan.publishing.tables import attempts, intents


def _intent_out(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in IntentOut.model_fields}


async def list_intents(
    session: AsyncSession, user_id: str, *, calendar_id: uuid.UUID | None, status: str | None,
    limit: int, cursor: str | None,
) -> tuple[list[IntentOut], str | None]:
    """Newest first, keyset-paged."""
    if calendar_id is not None:
        await calendars.get_calendar(session, user_id, calendar_id)
    stmt = select(intents).where(intents.c.user_id == user_id)
    if calendar_id is not None:
        stmt = stmt.where(intents.c.calendar_id == calendar_id)
    if status is not None:
        try:
            IntentStatus(status)
        except ValueError:
            raise Unprocessable(f"unknown status {status!r}", code="invalid_status") from None
        stmt = stmt.where(intents.c.status == status)
    stmt = keyset_page(stmt, (intents.c.created_at, intents.c.id), decode_cursor(cursor),
                       limit + 1, descending=True)
    rows, next_cursor = split_page((await session.execute(stmt)).all(), limit,
                                   lambda r: (r.created_at, r.id))
    return [IntentOut.model_validate(_intent_out(r)) for r in rows], next_cursor


async def get_intent(session: AsyncSession, user_id: str, intent_id: uuid.UUID) -> IntentDetail:
    """One intent with every attempt made for it; another user's id is a 404."""
    row = (await session.execute(
        select(intents).where(intents.c.id == intent_id, intents.c.user_id == user_id)
    )).one_or_none()
    if row is None:
        raise IntentNotFound("publish intent not found")
    tries = (await session.execute(
        select(attempts).where(attempts.c.intent_id == intent_id)
        .order_by(attempts.c.started_at, attempts.c.attempt_no)
    )).all()
    return IntentDetail.model_validate({
        **_intent_out(row),
        "attempt_log": [AttemptOut.model_validate(
            {n: getattr(t, n) for n in AttemptOut.model_fields}) for t in tries],
    })
