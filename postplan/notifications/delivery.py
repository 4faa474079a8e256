"""Webhook delivery: at least once, signed per Standard Webhooks, retried from the database.

A loop of its own (a lifespan hook of the app, and part of `postplan worker`) with its own HTTP
client and a bound on concurrent requests, so a slow or failing endpoint never holds up
publishing: the publish path only inserts a notification row (`outbox`).

Each pass:
1. fan-out: events not yet fanned out become one `webhook_deliveries` row per subscribed
   webhook of their user (and are marked `fanned_out_at`), in one transaction;
2. claim: due deliveries get `next_attempt_at` pushed past the attempt's timeout and their
   `attempts` counted, in one conditional UPDATE (Postgres: `FOR UPDATE SKIP LOCKED`), so two
   loops never send the same attempt and a crashed attempt is simply due again later; at most
   `WEBHOOK_PER_ENDPOINT` attempts per webhook are in flight in one loop, so an endpoint that
   hangs with a backlog holds its own share of `WEBHOOK_CONCURRENCY`, never every slot;
3. send: POST the event with `webhook-id` (the event's id: the same on every retry, so the
   receiver can drop duplicates), `webhook-timestamp` and `webhook-signature`; a 2xx is
   delivered, anything else (timeout, connection error, non-2xx) is retried after
   `WEBHOOK_RETRY_BASE_SECONDS × 4^(n-1)` (capped at 6 h) until `WEBHOOK_MAX_ATTEMPTS`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks.webhooks import Webhook as Signer

from postplan.config import AuthMode, Settings
from postplan.core.db import is_db_unavailable, utcnow, writer
from postplan.core.errors import AppError
from postplan.core.logging import get_logger
from postplan.core.metrics import WEBHOOK_DELIVERIES
from postplan.models import Notification, Webhook, WebhookDelivery
from postplan.notifications.store import cipher
from postplan.notifications.urlcheck import check_url

log = get_logger(__name__)

#: Longest wait between two attempts.
MAX_DELAY = dt.timedelta(hours=6)
#: Events fanned out per pass, deliveries claimed per pass (per unit of concurrency).
FAN_OUT_BATCH = 500
CLAIM_FACTOR = 4
#: Characters of an endpoint's answer or error kept on the delivery row.
ERROR_CHARS = 300


def retry_delay(settings: Settings, attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed attempt."""
    seconds = settings.webhook_retry_base_seconds * 4 ** max(attempts - 1, 0)
    return min(dt.timedelta(seconds=seconds), MAX_DELAY)


def body_of(note: Any) -> bytes:
    """The JSON an endpoint receives: `{"type", "timestamp", "data"}` (Standard Webhooks)."""
    return json.dumps({"type": note.event,
                       "timestamp": note.created_at.astimezone(dt.UTC).isoformat(),
                       "data": note.data}, separators=(",", ":")).encode()


@dataclass
class Attempt:
    """One claimed delivery and what it needs to be sent."""

    delivery_id: uuid.UUID
    attempts: int
    webhook_id: uuid.UUID
    url: str
    secret_enc: str
    message_id: str
    body: bytes


class DeliveryLoop:
    """Fans events out to webhooks and delivers them; `running()` runs it in the background."""

    def __init__(self, engine: AsyncEngine, settings: Settings, *,
                 client: httpx.AsyncClient | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self._client = client
        self._own_client = client is None
        self.limit = asyncio.Semaphore(settings.webhook_concurrency)
        self.dev = settings.auth_mode is AuthMode.dev
        #: Attempts claimed and not yet settled, per webhook (this loop's own).
        self.busy: Counter[uuid.UUID] = Counter()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.settings.webhook_timeout_seconds, follow_redirects=False,
                limits=httpx.Limits(max_connections=self.settings.webhook_concurrency),
                headers={"User-Agent": "postplan-webhooks"})
        return self._client

    async def aclose(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- 1. fan-out --------------------------------------------------------------------------

    async def fan_out(self) -> int:
        """Turn new events into deliveries; how many events were handled."""
        now = utcnow()
        async with writer(self.engine).begin() as conn:
            pick = (select(Notification.id, Notification.user_id, Notification.event)
                    .where(Notification.fanned_out_at.is_(None))
                    .order_by(Notification.created_at).limit(FAN_OUT_BATCH))
            if conn.dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            notes = (await conn.execute(pick)).all()
            if not notes:
                return 0
            users = {n.user_id for n in notes}
            hooks = (await conn.execute(select(Webhook.id, Webhook.user_id, Webhook.events)
                                        .where(Webhook.user_id.in_(users)))).all()
            rows = [{"id": uuid.uuid4(), "webhook_id": h.id, "notification_id": n.id,
                     "user_id": n.user_id, "event": n.event, "status": "pending",
                     "attempts": 0, "next_attempt_at": now, "created_at": now,
                     "updated_at": now}
                    for n in notes for h in hooks
                    if h.user_id == n.user_id and n.event in (h.events or [])]
            if rows:
                await conn.execute(insert(WebhookDelivery), rows)
            await conn.execute(update(Notification)
                               .where(Notification.id.in_([n.id for n in notes]))
                               .values(fanned_out_at=now))
        return len(notes)

    # -- 2. claim ----------------------------------------------------------------------------

    async def claim(self, limit: int | None = None) -> list[Attempt]:
        """Up to `limit` due deliveries, each pushed past its attempt's timeout so no other
        loop sends it."""
        now = utcnow()
        lease = dt.timedelta(seconds=self.settings.webhook_timeout_seconds + 30)
        d = WebhookDelivery
        async with writer(self.engine).begin() as conn:
            want = limit or self.settings.webhook_concurrency * CLAIM_FACTOR
            pick = (select(d.id, d.webhook_id)
                    .where(d.status == "pending", d.next_attempt_at <= now)
                    .order_by(d.next_attempt_at).limit(want * CLAIM_FACTOR))
            if conn.dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            cap = self.settings.webhook_per_endpoint
            taken: Counter[uuid.UUID] = Counter()
            ids = []
            for row in (await conn.execute(pick)).all():
                if self.busy[row.webhook_id] + taken[row.webhook_id] >= cap:
                    continue  # that endpoint has its share in flight: others go first
                taken[row.webhook_id] += 1
                ids.append(row.id)
                if len(ids) >= want:
                    break
            if not ids:
                return []
            claimed = (await conn.execute(
                update(d).where(d.id.in_(ids), d.status == "pending")
                .values(next_attempt_at=now + lease, attempts=d.attempts + 1, updated_at=now)
                .returning(d.id, d.attempts, d.webhook_id, d.notification_id))).all()
            hooks = {h.id: h for h in (await conn.execute(
                select(Webhook.id, Webhook.url, Webhook.secret_enc)
                .where(Webhook.id.in_({c.webhook_id for c in claimed})))).all()}
            notes = {n.id: n for n in (await conn.execute(
                select(Notification.id, Notification.event, Notification.created_at,
                       Notification.data)
                .where(Notification.id.in_({c.notification_id for c in claimed})))).all()}
        out: list[Attempt] = []
        for c in claimed:
            hook, note = hooks.get(c.webhook_id), notes.get(c.notification_id)
            if hook is None or note is None:
                continue  # deleted meanwhile (the rows cascade)
            out.append(Attempt(c.id, c.attempts, c.webhook_id, hook.url, hook.secret_enc,
                               f"msg_{note.id.hex}", body_of(note)))
            self.busy[c.webhook_id] += 1
        return out

    # -- 3. send -----------------------------------------------------------------------------

    async def send(self, attempt: Attempt) -> None:
        """One attempt, its outcome written back to the delivery row."""
        try:
            await self._send(attempt)
        finally:
            self.busy[attempt.webhook_id] -= 1
            if self.busy[attempt.webhook_id] <= 0:
                del self.busy[attempt.webhook_id]

    async def _send(self, attempt: Attempt) -> None:
        async with self.limit:
            status_code: int | None = None
            error: str | None = None
            try:
                await check_url(attempt.url, dev=self.dev)
                secret = cipher(self.settings).decrypt(attempt.secret_enc)
                now = dt.datetime.now(dt.UTC)
                signature = Signer(secret).sign(attempt.message_id, now, attempt.body)
                resp = await self.client.post(attempt.url, content=attempt.body, headers={
                    "content-type": "application/json", "webhook-id": attempt.message_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": signature})
                status_code = resp.status_code
                if not 200 <= resp.status_code < 300:
                    error = f"HTTP {resp.status_code}: {resp.text[:ERROR_CHARS]}"
            except AppError as exc:
                error = exc.detail or exc.code
            except httpx.TimeoutException:
                error = f"timed out after {self.settings.webhook_timeout_seconds:g} s"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {str(exc)[:ERROR_CHARS]}"
        await self._settle(attempt, status_code, error)

    async def _settle(self, attempt: Attempt, status_code: int | None,
                      error: str | None) -> None:
        now = utcnow()
        values: dict[str, Any] = {"last_status_code": status_code, "last_error": error,
                                  "updated_at": now}
        if error is None:
            values.update(status="delivered", delivered_at=now, next_attempt_at=None)
            outcome = "delivered"
        elif attempt.attempts >= self.settings.webhook_max_attempts:
            values.update(status="failed", next_attempt_at=None)
            outcome = "failed"
        else:
            values["next_attempt_at"] = now + retry_delay(self.settings, attempt.attempts)
            outcome = "retry"
        WEBHOOK_DELIVERIES.labels(outcome=outcome).inc()
        async with writer(self.engine).begin() as conn:
            await conn.execute(update(WebhookDelivery)
                               .where(WebhookDelivery.id == attempt.delivery_id,
                                      WebhookDelivery.attempts == attempt.attempts)
                               .values(**values))
        level = log.info if error is None else log.warning
        level("webhook.delivery", deliveryId=str(attempt.delivery_id),
              attempt=attempt.attempts, statusCode=status_code, error=error,
              status=values.get("status", "pending"))

    # -- the loop ----------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One pass: fan out, claim, send everything claimed; how many attempts were made."""
        await self.fan_out()
        attempts = await self.claim()
        if attempts:
            await asyncio.gather(*(self.send(a) for a in attempts))
        return len(attempts)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: keep up to `WEBHOOK_CONCURRENCY` attempts in flight, claiming more as
        slots free up (a hanging endpoint holds one slot for its timeout, not a whole batch).
        A database outage or a bug in one pass is logged and the loop goes on (the rows say
        what is left to do)."""
        inflight: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                started = 0
                try:
                    await self.fan_out()
                    free = self.settings.webhook_concurrency - len(inflight)
                    for attempt in (await self.claim(free)) if free > 0 else []:
                        task = asyncio.create_task(self.send(attempt))
                        inflight.add(task)
                        task.add_done_callback(inflight.discard)
                        started += 1
                except Exception as exc:  # the loop must outlive any one pass
                    log.error("webhook.loop_error", errorType=type(exc).__name__,
                              code=getattr(exc, "code", None),
                              dbUnavailable=is_db_unavailable(exc))
                if started and len(inflight) < self.settings.webhook_concurrency:
                    continue  # more may be due right away
                waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(stop.wait())}
                if inflight:
                    waiters |= set(inflight)  # a slot freeing up wakes the loop
                await asyncio.wait(
                    waiters, timeout=self.settings.webhook_poll_seconds,
                    return_when=asyncio.FIRST_COMPLETED)
                for w in waiters - set(inflight):
                    if not w.done():
                        w.cancel()
        finally:
            if inflight:
                # A short grace, then cancel: an unfinished attempt is due again after its
                # lease (at least once), so shutdown never waits on a hanging endpoint.
                grace = min(1.0, self.settings.webhook_timeout_seconds)
                await asyncio.wait(inflight, timeout=grace)
                for task in inflight:
                    task.cancel()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the loop in the background for the block's duration."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop), name="webhook-delivery")
        try:
            yield
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, 5.0)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
            await self.aclose()


@asynccontextmanager
async def delivery_lifespan(app: Any) -> AsyncIterator[None]:
    """The app's delivery loop, running while the app runs its worker (`app.state.run_worker`)
    and a secret key is configured (without one no webhook can exist)."""
    settings: Settings = app.state.settings
    if not app.state.run_worker or settings.token_encryption_key is None:
        yield
        return
    loop = DeliveryLoop(app.state.engine, settings)
    app.state.webhook_delivery = loop
    async with loop.running():
        yield
