"""`Idempotency-Key` with Stripe's semantics, stored in `idempotency_keys`.

* first request with a key: a row is claimed `in_progress` (one atomic INSERT … ON CONFLICT DO
  NOTHING, committed at once so concurrent requests see it);
* same key, same body, finished: the stored status and body are replayed;
* same key, other body: 422 `idempotency_key_reused`;
* same key while the first is running: 409 `idempotency_key_in_progress`;
* the first request failed before producing a response (validation, auth problem): the row is
  removed, so a corrected retry with the same key is a new request.

Keys are scoped per user and per route.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from postplan.core.db import begin_write, utcnow
from postplan.core.logging import get_logger
from postplan.publishing.dbutil import dialect_name, insert_ignore, rowcount
from postplan.publishing.errors import (
    IdempotencyKeyInProgress,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
)
from postplan.publishing.tables import idempotency_keys

log = get_logger(__name__)

keys = idempotency_keys

#: A request that has held its key this long without finishing is presumed dead (crash).
STALE_AFTER = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class Replay:
    """A finished request's stored response."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    """This request owns the key; finish or release it."""

    row_id: uuid.UUID


def request_hash(route: str, payload: Any) -> str:
    """A stable fingerprint of what was asked (route + canonical JSON body)."""
    raw = json.dumps({"route": route, "body": payload}, sort_keys=True, separators=(",", ":"),
                     default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def check_key(key: str) -> str:
    """The key as sent, or 400 when it cannot be one."""
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise IdempotencyKeyInvalid("Idempotency-Key must be 1-255 printable characters")
    return key


async def begin(
    maker: async_sessionmaker[AsyncSession], user_id: str, scope: str, key: str, fingerprint: str
) -> Claim | Replay:
    """Claim `key` for this request, or say what to answer instead."""
    now = utcnow()
    row_id = uuid.uuid4()
    async with maker() as session, session.begin():
        stmt = insert_ignore(keys, dialect_name(session)).values(
            id=row_id, user_id=user_id, scope=scope, key=key, request_hash=fingerprint,
            state="in_progress", created_at=now, updated_at=now,
        ).returning(keys.c.id)
        inserted = (await session.execute(stmt)).scalar_one_or_none()
    if inserted is not None:
        return Claim(row_id)
    async with maker() as session:
        await begin_write(session)
        row = (await session.execute(
            select(keys).where(keys.c.user_id == user_id, keys.c.scope == scope,
                               keys.c.key == key)
        )).one_or_none()
        if row is None:  # released between our insert and this read: try once more
            return await begin(maker, user_id, scope, key, fingerprint)
        if row.request_hash != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with a different request body"
            )
        if row.state == "done" and row.response_status is not None:
            return Replay(int(row.response_status), dict(row.response_body or {}))
        if row.updated_at < now - STALE_AFTER:
            taken = await session.execute(
                update(keys).where(keys.c.id == row.id, keys.c.state == "in_progress",
                                   keys.c.updated_at == row.updated_at)
                .values(updated_at=now)
            )
            await session.commit()
            if rowcount(taken) == 1:
                log.warning("idempotency.stale_key_taken_over", scope=scope)
                return Claim(row.id)
        raise IdempotencyKeyInProgress(
            "a request with this Idempotency-Key is still being processed; retry shortly",
            headers={"Retry-After": "1"},
        )


async def finish(session: AsyncSession, claim: Claim, status: int, body: dict[str, Any]) -> None:
    """Store the response in the caller's transaction, so it commits with the work it describes."""
    await session.execute(
        update(keys).where(keys.c.id == claim.row_id, keys.c.state == "in_progress")
        .values(state="done", response_status=status, response_body=body, updated_at=utcnow())
    )


async def release(maker: async_sessionmaker[AsyncSession], claim: Claim) -> None:
    """Forget a key whose request produced no response, so a retry starts afresh."""
    async with maker() as session, session.begin():
        await session.execute(
            delete(keys).where(keys.c.id == claim.row_id, keys.c.state == "in_progress")
        )


async def take_orphaned(maker: async_sessionmaker[AsyncSession], user_id: str, scope: str,
                        key: str, cutoff: dt.datetime) -> Claim | None:
    """Take over the key's `in_progress` claim when it was last touched at or before `cutoff`
    (its request is known to have given up by then); None when there is no such claim."""
    async with maker() as session, session.begin():
        row = (await session.execute(
            update(keys)
            .where(keys.c.user_id == user_id, keys.c.scope == scope, keys.c.key == key,
                   keys.c.state == "in_progress", keys.c.updated_at <= cutoff)
            .values(updated_at=utcnow())
            .returning(keys.c.id)
        )).scalar_one_or_none()
    if row is None:
        return None
    log.warning("spool.orphaned_claim_taken_over", scope=scope)
    return Claim(row)
