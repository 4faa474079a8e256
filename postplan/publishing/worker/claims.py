"""Claiming due intents and moving them along the state machine, fenced by the claim token.

Postgres claims with `FOR UPDATE SKIP LOCKED` (any number of workers, none waits on another);
SQLite claims inside `BEGIN IMMEDIATE` (one writer at a time gives the same exclusivity).
Every later write is `UPDATE … WHERE id = :id AND claim_token = :token AND status = :expected`:
a worker whose lease expired and was taken over writes nothing and stops.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.calendars import service as calendars
from postplan.core.db import is_db_unavailable
from postplan.core.logging import get_logger
from postplan.notifications import outbox
from postplan.publishing.connections.credentials import STORED_COLUMNS, Stored
from postplan.publishing.dbutil import rowcount, single_statements, transaction
from postplan.publishing.states import Event, IntentStatus, next_status
from postplan.publishing.tables import attempts, intents
from postplan.publishing.tables import connections as connections_t

log = get_logger(__name__)

S = IntentStatus


class StaleClaim(Exception):
    """This worker no longer owns the intent; it must stop touching it."""


@dataclass(frozen=True)
class Claimed:
    """A claimed intent: its row after the claim, and the status it had before.

    `entry_version_now` is the entry's version read by the claim itself (None when the entry or
    its calendar is gone): when it still equals `row.entry_version` the job need not read the
    entry again before sending.
    """

    row: Row[Any]
    previous: str
    token: str
    entry_version_now: int | None = None
    #: The user's connection to this channel, when the claim read it too (Postgres).
    connection: Stored | None = None
    #: Whether the attempt log already holds a `published` outcome for this intent: only a
    #: changed row brings such an intent back to be sent, and the job refuses it.
    published_before: bool = False


def _stored(r: Row[Any]) -> Stored:
    """The connection columns a claim read along, as `CredentialStore.get` takes them."""
    if r.conn_id is None:
        return Stored(None)
    return Stored(SimpleNamespace(**{k: getattr(r, f"conn_{k}") for k in STORED_COLUMNS}))


def _entry_version_now() -> Any:
    """The claimed intent's entry version as saved now, read in the claim's own statement."""
    c = intents.c
    return (calendars.entry_version_now(c.entry_id, c.calendar_id, c.user_id)
            .correlate(intents).scalar_subquery().label("entry_version_now"))


def _published_before() -> Any:
    """Whether the claimed intent's attempt log says it went live, read in the claim itself."""
    a, c = attempts.c, intents.c
    return (exists().where(a.intent_id == c.id, a.outcome == "published")
            .correlate(intents).label("published_before"))


def _due(now: dt.datetime) -> Any:
    c = intents.c
    return and_(
        c.dry_run.is_(False),
        or_(
            and_(c.status == S.pending.value, c.run_after <= now),
            and_(c.status.in_([S.processing.value, S.unknown.value]), c.run_after <= now,
                 or_(c.claim_token.is_(None), c.lease_expires_at < now)),
            and_(c.status.in_([S.claimed.value, S.submitting.value]), c.lease_expires_at < now),
        ),
    )


def _claim_values(now: dt.datetime, token: str, worker_id: str,
                  lease: dt.timedelta) -> dict[str, Any]:
    c = intents.c
    return {
        # pending/claimed(expired) → claimed; submitting(expired) → unknown (reconcile, never
        # resend); processing/unknown keep their status and are polled/reconciled.
        "status": case(
            (c.status.in_([S.pending.value, S.claimed.value]), S.claimed.value),
            (c.status == S.submitting.value, S.unknown.value),
            else_=c.status,
        ),
        "attempts": case((c.status == S.pending.value, c.attempts + 1), else_=c.attempts),
        "claim_token": token,
        "claimed_by": worker_id,
        "lease_expires_at": now + lease,
        "updated_at": now,
    }


async def claim_due(engine: AsyncEngine, *, worker_id: str, limit: int, now: dt.datetime,
                    lease: dt.timedelta) -> list[Claimed]:
    """Claim up to `limit` due intents for this worker, each with its own fencing token."""
    token = uuid.uuid4().hex
    c = intents.c
    pick = select(c.id, c.status).where(_due(now)).order_by(c.run_after, c.id).limit(limit)
    values = _claim_values(now, token, worker_id, lease)
    one = single_statements(engine)
    if one is not None:
        # One statement, so one transaction of its own: pick with SKIP LOCKED and claim, and
        # read along what the job needs next (the entry's version, the channel connection).
        cc = connections_t.c
        chosen = (pick.add_columns(cc.id.label("conn_id"),
                                   *(cc[k].label(f"conn_{k}") for k in STORED_COLUMNS))
                  .select_from(intents.outerjoin(connections_t, and_(
                      cc.user_id == c.user_id, cc.channel == c.channel)))
                  .with_for_update(of=intents, skip_locked=True).cte("chosen"))
        ch = chosen.c
        stmt = (update(intents).where(c.id == ch.id).values(**values)
                .returning(*intents.c, ch.status.label("previous"), _entry_version_now(),
                           _published_before(), ch.conn_id,
                           *(ch[f"conn_{k}"] for k in STORED_COLUMNS)))
        async with one.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [Claimed(r, r.previous, token, r.entry_version_now, _stored(r),
                        bool(r.published_before)) for r in rows]
    async with transaction(engine, immediate=True) as conn:
        picked = (await conn.execute(pick)).all()
        if not picked:
            return []
        before = {r.id: r.status for r in picked}
        stmt2 = (update(intents).where(c.id.in_(list(before))).values(**values)
                 .returning(*intents.c))
        rows = (await conn.execute(stmt2)).all()
        # SQLite's RETURNING names columns unqualified, so a correlated subquery there is
        # ambiguous: the entries' versions come from a second read in the same transaction.
        owned = calendars.entry_versions([r.entry_id for r in rows])
        versions = {(v.id, v.calendar_id, v.user_id): v.version
                    for v in (await conn.execute(owned)).all()}
        published: set[uuid.UUID] = set((await conn.execute(
            select(attempts.c.intent_id).where(attempts.c.intent_id.in_(list(before)),
                                               attempts.c.outcome == "published")
        )).scalars())
        return [Claimed(r, before[r.id], token,
                        versions.get((r.entry_id, r.calendar_id, r.user_id)),
                        published_before=r.id in published) for r in rows]


def attempt_row(intent: Row[Any], step: str, outcome: str, *, started: dt.datetime,
                finished: dt.datetime, error: dict[str, Any] | None = None,
                detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """One `publish_attempts` row."""
    return {
        "id": uuid.uuid4(), "intent_id": intent.id, "user_id": intent.user_id,
        "attempt_no": intent.attempts, "step": step, "outcome": outcome, "error": error,
        "detail": detail, "started_at": started, "finished_at": finished,
    }


def _stale(intent_id: uuid.UUID, expected: str, values: dict[str, Any]) -> StaleClaim:
    log.warning("publish.stale_claim_rejected", intentId=str(intent_id), expected=expected,
                attempted=values.get("status", expected))
    return StaleClaim(str(intent_id))


#: Columns of an attempt row, in `attempt_row`'s order.
_LOG_COLUMNS = ("id", "intent_id", "user_id", "attempt_no", "step", "outcome", "error", "detail",
                "started_at", "finished_at")
#: Columns of a notification row (`outbox.note_row`).
_NOTE_COLUMNS = ("id", "user_id", "event", "calendar_id", "intent_id", "run_id", "data",
                 "created_at", "fanned_out_at")


@functools.lru_cache(maxsize=256)
def _move_statement(keys: tuple[str, ...], log_rows: int, single: bool,
                    note: bool = False) -> Any:
    """The fenced UPDATE for one set of columns, built once and reused.

    Built with bind parameters so SQLAlchemy constructs, keys and compiles it once per shape
    instead of once per call (on a busy worker that was a fifth of its CPU). `single` (Postgres)
    folds the move and `log_rows` attempt rows into one statement, one round trip and one
    transaction: `WITH moved AS (UPDATE … RETURNING id), logged AS (INSERT … SELECT … FROM
    moved) SELECT count(*) FROM moved` — log rows are written only when the fence held, and
    the count says whether it did. `note` adds the move's notification row (the outbox) the
    same way, so the event exists exactly when the move does.
    """
    c = intents.c
    move = (update(intents)
            .where(c.id == bindparam("fence_id", type_=c.id.type),
                   c.claim_token == bindparam("fence_token", type_=c.claim_token.type),
                   c.status == bindparam("fence_status", type_=c.status.type))
            .values({k: bindparam(f"set_{k}", type_=c[k].type) for k in keys}))
    if not single:
        return move
    moved = move.returning(c.id).cte("moved")
    stmt = select(func.count()).select_from(moved)
    if log_rows:
        rows = [select(*(bindparam(f"log{i}_{k}", type_=attempts.c[k].type)
                         for k in _LOG_COLUMNS)).select_from(moved) for i in range(log_rows)]
        source = rows[0] if log_rows == 1 else union_all(*rows)
        stmt = stmt.add_cte(insert(attempts).from_select(list(_LOG_COLUMNS), source)
                            .cte("logged"))
    if note:
        n = outbox.notifications
        noted = select(*(bindparam(f"note_{k}", type_=n.c[k].type) for k in _NOTE_COLUMNS)
                       ).select_from(moved)
        stmt = stmt.add_cte(insert(n).from_select(list(_NOTE_COLUMNS), noted).cte("noted"))
    return stmt


#: Seconds between tries of a fenced write while the database is unreachable (~8 s in all).
_WRITE_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)


async def _fenced(engine: AsyncEngine, intent_id: uuid.UUID, token: str, expected: str,
                  values: dict[str, Any], log_rows: list[dict[str, Any]],
                  note: dict[str, Any] | None = None) -> None:
    """The fenced UPDATE and its attempt rows, all or nothing.

    Tried again for a few seconds when the database is unreachable: after the irreversible
    call, giving up here would leave a post the platform made with no record of its handle (a
    TikTok post then needs a human). Retrying is safe because the write is fenced: if a try
    that looked lost had in fact committed, the next one finds the status moved and stops.
    """
    keys = tuple(sorted(values))
    params = {f"set_{k}": values[k] for k in keys}
    params.update(fence_id=intent_id, fence_token=token, fence_status=expected)
    for delay in (*_WRITE_RETRY_DELAYS, None):
        try:
            moved = await _fenced_once(engine, keys, params, log_rows, note)
            break
        except Exception as exc:
            if delay is None or not is_db_unavailable(exc):
                raise
            log.warning("publish.write_retry", intentId=str(intent_id),
                        errorType=type(exc).__name__, delaySeconds=delay)
            await asyncio.sleep(delay)
    if moved != 1:
        raise _stale(intent_id, expected, values)


async def _fenced_once(engine: AsyncEngine, keys: tuple[str, ...], params: dict[str, Any],
                       log_rows: list[dict[str, Any]], note: dict[str, Any] | None = None) -> int:
    """One try of `_fenced`; the number of intents moved (1, or 0 when the fence failed)."""
    one = single_statements(engine)
    if one is not None:
        params = {**params}
        for i, log_row in enumerate(log_rows):
            params.update({f"log{i}_{k}": log_row[k] for k in _LOG_COLUMNS})
        if note is not None:
            params.update({f"note_{k}": note[k] for k in _NOTE_COLUMNS})
        async with one.connect() as conn:
            result = await conn.execute(
                _move_statement(keys, len(log_rows), True, note is not None), params)
            moved: int = result.scalar_one()
        return moved
    async with transaction(engine) as conn:
        moved = rowcount(await conn.execute(_move_statement(keys, 0, False), params))
        if moved == 1 and log_rows:
            await conn.execute(insert(attempts), log_rows)
        if moved == 1 and note is not None:
            await outbox.record(conn, [note])
    return moved


async def transition(
    engine: AsyncEngine, intent_id: uuid.UUID, token: str, current: str, event: Event, *,
    now: dt.datetime, log_rows: list[dict[str, Any]] | None = None, release: bool = False,
    row: Row[Any] | None = None, **values: Any,
) -> str:
    """Move a claimed intent along one edge of the state machine (or raise StaleClaim).

    `release` drops the claim (token and lease) so any worker may pick the intent up later.
    Given the intent's `row`, a move to a status the user is told about (published, failed,
    needs_reauth, unknown) records its notification in the same statement or transaction.
    """
    to = next_status(current, event).value
    note = (outbox.intent_note(row, to, values, now)
            if row is not None and to != current else None)
    values = {**values, "status": to, "updated_at": now}
    if release:
        values.update(claim_token=None, claimed_by=None, lease_expires_at=None)
    await _fenced(engine, intent_id, token, current, values, log_rows or [], note)
    return to


async def update_claimed(engine: AsyncEngine, intent_id: uuid.UUID, token: str, current: str,
                         *, log_rows: list[dict[str, Any]] | None = None,
                         **values: Any) -> None:
    """Write fields of a claimed intent without changing its status (fenced like a transition)."""
    await _fenced(engine, intent_id, token, current, values, log_rows or [])


async def record_attempts(engine: AsyncEngine, rows: list[dict[str, Any]]) -> None:
    """Attempt rows for an intent this worker no longer holds (a step after the final move,
    such as Instagram's first comment): plain inserts, fenced by nothing."""
    if rows:
        async with transaction(engine) as conn:
            await conn.execute(attempts.insert(), rows)
