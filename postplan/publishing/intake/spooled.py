"""Publishing while the database is down: spool the request, answer 202, replay it later.

The ops appendix's playbook (docs/contract.md: "Supabase down: queue intent, retry after
recovery") made durable.
A publish request that cannot reach the database is appended to the local fsync'd spool
(`postplan.core.spool`) exactly as asked — calendar, entry ids, channels, `when`, `dryRun`,
the `Idempotency-Key` — because the entries themselves cannot be read. The answer is
`202 {"dryRun": true, "status": "queued"}` only once the whole record is fsync'd: nothing was
published yet, and only what can be checked without the database was checked (the body's shape
and its entry-id count, by the same `PublishBody` model as the normal path; the key's form).

Bounded so one user cannot fill the spool's volume: a request whose record would exceed
`SPOOL_MAX_RECORD_BYTES` is 503 `spool_record_too_large`, a user with `SPOOL_MAX_USER_BYTES`
already waiting gets 429 `spool_quota_exceeded`, a spool at `SPOOL_MAX_BYTES` (or a volume that
cannot take the write) answers 503 `spool_full`; all with `Retry-After`, none stores anything.

When the database answers again the drain loop replays each record through the endpoint's own
intake transaction (`transaction.record`), so it resolves against the latest saved entries and
honours the flags at that moment. Exactly once, twice over: the record's key is claimed in
`idempotency_keys` in the same transaction that writes the intents (a replay finds it done),
and every intent written by a drain carries a unique `dedupe_key` (a second write of the same
record would violate it and roll back).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from postplan.config import Settings
from postplan.core.context import bound, request_id_var
from postplan.core.db import is_db_unavailable, utcnow
from postplan.core.errors import AppError, ServiceUnavailable
from postplan.core.logging import get_logger
from postplan.core.metrics import PUBLISH_RESULTS
from postplan.core.schemas import Schema
from postplan.core.spool import Spool
from postplan.core.spooldrain import (
    DbAvailability,
    Drainer,
    RecordRejected,
    RetryLater,
    running_drainer,
)
from postplan.core.spoolfile import Record
from postplan.publishing.errors import IdempotencyKeyInProgress
from postplan.publishing.intake import idempotency, service, transaction
from postplan.publishing.schemas import PublishBody, Summary
from postplan.publishing.tables import intents

log = get_logger(__name__)

#: The spool record kind of a publish request (the same word as its idempotency scope).
KIND = transaction.SCOPE


class QueuedRequest(Schema):
    """The publish request as it was accepted into the spool."""

    dedupe_key: str
    calendar_id: uuid.UUID
    entry_ids: list[uuid.UUID] | None
    channels: list[str] | None
    when: str
    requested_dry_run: bool
    spooled_at: str


class QueuedPublishResponse(Schema):
    """202 while the database is unreachable: the request waits in the local spool."""

    dry_run: bool = True
    status: Literal["queued"] = "queued"
    detail: str
    summary: Summary
    results: list[dict[str, Any]]
    queued: QueuedRequest


def spool_key(user_id: str, idempotency_key: str | None) -> str:
    """The spool's dedupe key: stable per (user, Idempotency-Key), random without a key."""
    if idempotency_key is None:
        return "anon-" + uuid.uuid4().hex
    digest = hashlib.sha256(f"{user_id}\x1f{KIND}\x1f{idempotency_key}".encode()).hexdigest()
    return "idem-" + digest[:48]


def row_dedupe_key(record_key: str, entry_id: uuid.UUID | str, channel: str) -> str:
    """The `publish_intents.dedupe_key` of one entry × channel written by one spool record."""
    return hashlib.sha256(f"{record_key}|{entry_id}|{channel}".encode()).hexdigest()


def database_down(request: Request) -> bool:
    """The database failed moments ago: spool straight away instead of waiting on it."""
    availability: DbAvailability | None = getattr(request.app.state, "db_availability", None)
    return availability is not None and availability.recently_down()


def can_spool(request: Request, exc: BaseException) -> bool:
    """Whether `exc` means the database is unreachable and this app has a spool to fall back on.

    Marks the database down, so the next requests go straight to the spool."""
    availability: DbAvailability | None = getattr(request.app.state, "db_availability", None)
    if availability is None or not is_db_unavailable(exc):
        return False
    availability.mark_down(type(exc).__name__)
    return True


async def spool_publish(request: Request, *, user_id: str, calendar_id: uuid.UUID,
                        body: PublishBody, idempotency_key: str | None) -> JSONResponse:
    """Accept a publish request into the spool and answer 202 queued (dry run)."""
    if idempotency_key is not None:
        idempotency.check_key(idempotency_key)
    spool: Spool = request.app.state.spool
    key = spool_key(user_id, idempotency_key)
    data = {
        "userId": user_id,
        "calendarId": str(calendar_id),
        "body": body.model_dump(mode="json"),  # field names, as the endpoint fingerprints it
        "idempotencyKey": idempotency_key,
        "requestId": request_id_var.get(),
    }
    try:
        # Raises SpoolFull (503, also for a write that could not complete: nothing is
        # acknowledged that is not whole on disk), SpoolRecordTooLarge (503) or
        # SpoolQuotaExceeded (429), each a problem with Retry-After.
        appended = await spool.append_async(key, KIND, data, owner=user_id)
    except OSError as exc:  # the spool directory itself is unusable (permissions, gone)
        log.error("publish.spool_write_failed", errorType=type(exc).__name__)
        raise ServiceUnavailable("the database is unavailable and the request could not be "
                                 "stored locally; retry later", code="spool_unavailable",
                                 headers={"Retry-After": "30"}) from exc
    stored = appended.record
    stored_body = stored["data"]["body"]
    for channel in stored_body.get("channels") or ("tiktok", "instagram"):
        PUBLISH_RESULTS.labels(channel=channel, outcome="queued").inc(0 if appended.duplicate
                                                                       else 1)
    log.warning("publish.spooled", dedupeKey=key, duplicate=appended.duplicate,
                depth=spool.depth, status="queued")
    answer = QueuedPublishResponse(
        detail="the database is unavailable; the request is stored locally and will be applied "
               "to the latest saved entries when the database is back",
        summary=Summary(),
        results=[],
        queued=QueuedRequest(
            dedupe_key=key,
            calendar_id=uuid.UUID(stored["data"]["calendarId"]),
            entry_ids=stored_body.get("entry_ids"),
            channels=stored_body.get("channels"),
            when=stored_body.get("when", "scheduled"),
            requested_dry_run=bool(stored_body.get("dry_run", True)),
            spooled_at=stored["spooledAtIso"],
        ),
    )
    headers = {"Retry-After": "5"}
    if appended.duplicate:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(answer.model_dump(mode="json", by_alias=True), status_code=202,
                        headers=headers)


class PublishSink:
    """Writes one spooled publish request into the database (the drain's sink)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, record: Record) -> None:
        data = record["data"]
        user_id = str(data["userId"])
        calendar_id = uuid.UUID(str(data["calendarId"]))
        try:
            body = PublishBody.model_validate(data["body"])
        except ValueError as exc:
            raise RecordRejected(f"invalid spooled body: {exc}") from exc
        state = self.app.state
        maker: async_sessionmaker[AsyncSession] = state.write_sessionmaker  # it all writes
        key = data.get("idempotencyKey") or record["dedupeKey"]
        with bound(userId=user_id, calendarId=str(calendar_id),
                   requestId=data.get("requestId")):
            try:
                begun = await transaction.claim_key(maker, user_id, key, calendar_id,
                                                    data["body"])
            except IdempotencyKeyInProgress as exc:
                # The key's claim left behind by the very request that was spooled: a request
                # that claimed its key and then lost the database answered 202 from the spool,
                # and its claim could not be released. A claim last touched before the record
                # was spooled belongs to that request (a newer one is a live retry).
                cutoff = dt.datetime.fromtimestamp(float(record["spooledAt"]), dt.UTC)
                orphan = await idempotency.take_orphaned(maker, user_id, transaction.SCOPE, key,
                                                         cutoff)
                if orphan is None:
                    raise RetryLater("the same Idempotency-Key is being processed") from exc
                begun = orphan
            except AppError as exc:  # e.g. the key was reused for another body meanwhile
                raise RecordRejected(f"{exc.code}: {exc.detail}") from exc
            if isinstance(begun, idempotency.Replay):
                log.info("spool.publish_already_applied", dedupeKey=record["dedupeKey"])
                return

            async def stamp(session: AsyncSession, outcome: service.Outcome) -> None:
                for row in outcome.rows:
                    # Only rows this drain inserted are still unkeyed; a unique violation here
                    # means the record was applied before: roll everything back.
                    await session.execute(
                        update(intents)
                        .where(intents.c.id == row["id"], intents.c.dedupe_key.is_(None))
                        .values(dedupe_key=row_dedupe_key(record["dedupeKey"],
                                                          row["entry_id"], row["channel"])))

            try:
                recorded = await transaction.record(
                    maker, begun, settings=state.settings, flags=state.flags,
                    gateway=state.channel_gateway, user_id=user_id, calendar_id=calendar_id,
                    body=body, request_id=data.get("requestId"), now=utcnow(), stamp=stamp)
            except AppError as exc:
                log.error("spool.publish_rejected", dedupeKey=record["dedupeKey"],
                          code=exc.code, detail=exc.detail, status=str(exc.status_code))
                raise RecordRejected(f"{exc.status_code} {exc.code}: {exc.detail}") from exc
            log.info("spool.publish_applied", dedupeKey=record["dedupeKey"],
                     intents=len(recorded.outcome.rows),
                     status=str(recorded.outcome.status_code))


def readiness(app: FastAPI) -> dict[str, Any]:
    """The spool's part of `/readyz`."""
    spool: Spool = app.state.spool
    availability: DbAvailability = app.state.db_availability
    return {"spool": {"depth": spool.depth,
                      "oldestAgeSeconds": round(spool.oldest_age_seconds(), 1),
                      "databaseDown": availability.down}}


@asynccontextmanager
async def spool_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the spool, expose it to `/readyz`, and drain it whenever the database answers."""
    settings: Settings = app.state.settings
    spool = Spool(settings.spool_dir, max_bytes=settings.spool_max_bytes,
                  max_record_bytes=settings.spool_max_record_bytes,
                  max_owner_bytes=settings.spool_max_user_bytes)
    availability = DbAvailability()
    app.state.spool = spool
    app.state.db_availability = availability
    previous = getattr(app.state, "readiness_extra", None)

    def extra() -> dict[str, Any]:
        out = dict(previous()) if callable(previous) else {}
        out.update(readiness(app))
        return out

    app.state.readiness_extra = extra
    if spool.depth:
        log.warning("spool.pending_at_start", depth=spool.depth)
    async def probe() -> None:
        async with app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    drainer = Drainer(spool, PublishSink(app), availability=availability, probe=probe)
    app.state.spool_drainer = drainer
    async with running_drainer(drainer, interval=settings.worker_poll_seconds):
        yield
