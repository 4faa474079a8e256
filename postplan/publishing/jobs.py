"""One claimed intent, driven one step along the state machine.

Order for a fresh intent: credentials (refreshed if due) → account pacing → preflight (read-only)
→ prepare (reversible; its handle is committed) → `submitting` committed → publish (THE
irreversible call, at most once) → published | processing (polled later) | pending (definitely not
sent: retry later) | failed | needs_reauth | unknown (reconciled, never resent).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from postplan.channels.base import (
    AdapterResult,
    AuthError,
    ChannelAdapter,
    ChannelError,
    Credentials,
    OAuthClient,
    OutcomeUnknown,
    PermanentError,
    PublishRequest,
    RetryLater,
)
from postplan.core.context import bound
from postplan.core.flags import Flag
from postplan.core.logging import get_logger
from postplan.core.metrics import PUBLISH_ATTEMPTS, PUBLISH_RESULTS
from postplan.models import Calendar, CalendarEntry
from postplan.publishing.claims import (
    Claimed,
    StaleClaim,
    attempt_row,
    transition,
    update_claimed,
)
from postplan.publishing.connections import Stored, mark_needs_reauth
from postplan.publishing.dbutil import single_statements
from postplan.publishing.requests import build_request
from postplan.publishing.revalidate import (
    StoredRequestRefused,
    already_published,
    load_request,
    request_findings,
)
from postplan.publishing.service import findings_error
from postplan.publishing.states import Event, IntentStatus

if TYPE_CHECKING:
    from postplan.publishing.worker import Worker

log = get_logger("postplan.publishing.worker")

S = IntentStatus
T = TypeVar("T")


#: The entry as saved now. One round trip: the calendar's ownership check rides along as
#: EXISTS (the same rows `calendars.list_entries` would return for this id); built once.
_ENTRY_NOW = select(CalendarEntry).where(
    CalendarEntry.id == bindparam("entry_id", type_=CalendarEntry.id.type),
    CalendarEntry.calendar_id == bindparam("calendar_id", type_=CalendarEntry.calendar_id.type),
    CalendarEntry.user_id == bindparam("user_id", type_=CalendarEntry.user_id.type),
    exists().where(Calendar.id == bindparam("calendar_id", type_=Calendar.id.type),
                   Calendar.user_id == bindparam("user_id", type_=Calendar.user_id.type)))


class _Stop(Exception):
    """The job has written its final word for this round."""


def _error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, ChannelError):
        return exc.as_error()
    return {"code": "internal_error", "message": f"{type(exc).__name__} in the worker"}


class Job:
    """The work for one claimed intent. Every write is fenced by the claim token."""

    #: Set by `_load` once the stored row passed its checks; nothing is sent before.
    adapter: ChannelAdapter
    req: PublishRequest

    def __init__(self, worker: Worker, claimed: Claimed) -> None:
        self.w = worker
        self.cfg = worker.config
        self.row = claimed.row
        self.previous = claimed.previous
        self.token = claimed.token
        self.entry_version_now = claimed.entry_version_now
        self.connection = claimed.connection
        self.published_before = claimed.published_before
        self.status: str = claimed.row.status
        self.handle: str | None = claimed.row.platform_handle
        self.log_rows: list[dict[str, Any]] = []
        self.refreshed = False
        self.creds: Credentials | None = None
        self._auth_error: dict[str, Any] | None = None
        self._refresh_due = False
        self._polls: int = int(claimed.row.polls or 0)
        self._inline_left: float = worker.config.inline_poll_budget
        self._lease_until: datetime = claimed.row.lease_expires_at or worker.clock()

    # -- entry point ------------------------------------------------------------------------
    async def run(self) -> None:
        row = self.row
        with bound(channel=row.channel, calendarId=str(row.calendar_id),
                   runId=str(row.run_id) if row.run_id else None, userId=row.user_id,
                   requestId=row.request_id, status=self.status, intentId=str(row.id)):
            try:
                await self._load()
                if self.status == S.claimed:
                    await self.submit()
                elif self.status == S.processing:
                    await self.poll()
                elif self.status == S.unknown:
                    if self.previous == S.submitting:
                        log.warning("publish.lease_expired_reconcile", handle=self.handle)
                    await self.reconcile()
            except (_Stop, StaleClaim):
                pass
            except Exception as exc:
                log.exception("publish.worker_error", errorType=type(exc).__name__)
                with contextlib.suppress(Exception):
                    await self._after_crash(exc)

    async def _load(self) -> None:
        """The adapter and the stored request, checked again as the API checked them before
        storing it. A request the API would have refused, or a send of an intent that already
        went live, ends `failed` here: nothing is sent and no URL in it is fetched."""
        refusal: StoredRequestRefused | None
        sending = self.status == S.claimed
        try:
            self.adapter, self.req = load_request(self.row, self.w.gateway.adapter, self.now(),
                                                  sending=sending)
            refusal = already_published(self.row, self.published_before) if sending else None
        except StoredRequestRefused as exc:
            refusal = exc
        if refusal is not None:
            # Not something the API stores: the row was changed behind postplan's back.
            log.error("publish.stored_request_refused", code=refusal.code,
                      findings=[f.code for f in refusal.findings])
            await self._finish(Event.permanent_failure, "failed", error=refusal.as_error())

    # -- helpers ----------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.w.clock()

    def _log(self, step: str, outcome: str, started: datetime, *,
             error: dict[str, Any] | None = None, detail: dict[str, Any] | None = None) -> None:
        self.log_rows.append(attempt_row(self.row, step, outcome, started=started,
                                         finished=self.now(), error=error, detail=detail))

    def _flush(self) -> list[dict[str, Any]]:
        rows, self.log_rows = self.log_rows, []
        return rows

    async def _move(self, event: Event, *, release: bool = False, **values: Any) -> None:
        self.status = await transition(self.w.engine, self.row.id, self.token, self.status,
                                       event, now=self.now(), log_rows=self._flush(),
                                       release=release, **values)

    async def _finish(self, event: Event, outcome: str, **values: Any) -> None:
        await self._move(event, release=True, **values)
        if outcome == "needs_reauth":
            await mark_needs_reauth(self.w.engine, self.row.user_id, self.row.channel,
                                    values.get("error"))
        PUBLISH_RESULTS.labels(channel=self.row.channel, outcome=outcome).inc()
        with bound(status=self.status):
            level = log.info if outcome == "published" else log.warning
            level(f"publish.{outcome}", error=values.get("error"),
                  platformPostId=values.get("platform_post_id"))
        raise _Stop

    def _backoff(self, exc: ChannelError | None) -> float:
        attempts = int(self.row.attempts)
        base = min(self.cfg.retry_cap, self.cfg.retry_base * 2.0 ** max(0, attempts - 1))
        base *= random.uniform(0.8, 1.2)
        if isinstance(exc, RetryLater):
            return float(exc.retry_after if exc.from_platform else max(exc.retry_after, base))
        return base

    async def _retry_or_fail(self, exc: ChannelError | Exception) -> None:
        """Nothing was sent: try again later, or fail with the last reason once out of tries."""
        error = _error(exc)
        if isinstance(exc, ChannelError) and exc.handle:
            self.handle = exc.handle
        if self.row.attempts >= self.cfg.max_attempts:
            error = {**error, "message": f"{error['message']} (gave up after "
                                         f"{self.row.attempts} attempts)"}
            await self._finish(Event.permanent_failure, "failed", error=error,
                               platform_handle=self.handle)
        delay = self._backoff(exc if isinstance(exc, ChannelError) else None)
        await self._move(Event.retry_later, release=True, error=error,
                         platform_handle=self.handle,
                         run_after=self.now() + timedelta(seconds=delay))
        PUBLISH_RESULTS.labels(channel=self.row.channel, outcome="retry").inc()
        log.info("publish.retry_scheduled", delaySeconds=round(delay, 3), code=error["code"],
                 attempt=self.row.attempts)
        raise _Stop

    async def _credentials(self, force: bool = False, conn: AsyncConnection | None = None,
                           stored: Stored | None = None) -> Credentials | None:
        oauth: OAuthClient | None = None
        if self.w.settings.adapter_configured(self.row.channel):
            try:
                oauth = self.w.gateway.oauth(self.row.channel)
            except Exception:  # no OAuth client available: use the stored token as is
                oauth = None
        started = self.now()
        result = await self.w.credentials.get(self.row.user_id, self.row.channel, oauth,
                                              force_refresh=force, conn=conn, stored=stored)
        if result.refresh_due:
            self._refresh_due = True
            return None
        if force or result.error:
            self._log("credentials", "ok" if result.creds else
                      ("retry" if result.transient else "auth_failed"), started,
                      error=result.error, detail={"refresh": force})
        if result.creds is None:
            if result.transient:
                return None
            log.warning("adapter.auth_missing", code=(result.error or {}).get("code"))
            self._auth_error = result.error
            return None
        self.creds = result.creds
        self.req = self.req.model_copy(update={"account_id": result.creds.account_id})
        return result.creds

    async def _call(self, step: str, fn: Callable[[Credentials], Awaitable[T]],
                    outcome: Callable[[T], str] | None = None) -> T:
        """A call that sends nothing irreversible; an AuthError gets one refresh and one retry.
        Its attempt row says `ok`, or what `outcome` makes of the value."""
        while True:
            assert self.creds is not None
            started = self.now()
            try:
                value = await fn(self.creds)
            except AuthError as exc:
                self._log(step, "auth_failed", started, error=exc.as_error())
                if self.refreshed or exc.needs_scope:
                    raise
                self.refreshed = True
                if await self._credentials(force=True) is None:
                    raise
                continue
            except ChannelError as exc:
                self._log(step, type(exc).__name__, started, error=exc.as_error())
                raise
            self._log(step, "ok" if outcome is None else outcome(value), started)
            return value

    # -- fresh intent -----------------------------------------------------------------------
    async def submit(self) -> None:
        row = self.row
        if not self.w.flags.is_enabled(Flag.publish_service, row.user_id):
            # Publishing was switched off after this was queued: keep it, send nothing.
            await self._move(Event.release, release=True, attempts=row.attempts - 1,
                             run_after=self.now() + timedelta(seconds=self.cfg.flag_off_delay))
            log.info("publish.deferred_flag_off")
            raise _Stop
        if row.attempts > self.cfg.max_attempts:
            await self._finish(Event.permanent_failure, "failed",
                               error=row.error or {"code": "retries_exhausted",
                                                   "message": "gave up after retries"})
        # The claim read the entry's version: unchanged (the usual case) means no second read.
        unchanged = self.entry_version_now is not None and \
            self.entry_version_now == row.entry_version
        entry: CalendarEntry | None = None
        if unchanged:
            creds = await self._credentials(stored=self.connection)
        else:
            # One checkout for both reads (the connection, and the entry as saved now),
            # outside a transaction on Postgres: plain reads need no BEGIN/ROLLBACK.
            async with (single_statements(self.w.engine) or self.w.engine).connect() as conn:
                creds = await self._credentials(conn=conn)
                entry = await self._read_entry(conn) if creds or self._refresh_due else None
        if self._refresh_due:  # refreshing takes a connection of its own; this one is back
            creds = await self._credentials()
        if creds is None:
            await self._no_credentials()
        assert self.creds is not None
        if not unchanged:
            await self._latest_entry(entry)
        async with self.w.limiter.account(row.channel, self.creds.account_id):
            wait = self.w.limiter.reserve(row.channel, self.creds.account_id)
            if wait > 0:
                await self._move(Event.release, release=True, attempts=row.attempts - 1,
                                 run_after=self.now() + timedelta(seconds=wait))
                log.info("publish.rate_deferred", delaySeconds=round(wait, 3))
                raise _Stop
            await self._before_send()
            await self._send()

    async def _read_entry(self, conn: AsyncConnection) -> CalendarEntry | None:
        """The entry as saved now, or None when it (or its calendar) is gone."""
        row = self.row
        async with AsyncSession(bind=conn) as session:
            return (await session.execute(_ENTRY_NOW, {
                "entry_id": row.entry_id, "calendar_id": row.calendar_id,
                "user_id": row.user_id})).scalar_one_or_none()

    async def _latest_entry(self, entry: CalendarEntry | None) -> None:
        """Publish what the user sees now: an entry edited since it was queued is re-read,
        re-validated and re-scheduled; a deleted one cancels its intent."""
        row = self.row
        if entry is None:
            await self._move(Event.cancel, release=True,
                             error={"code": "entry_deleted",
                                    "message": "the entry was deleted before it was published"})
            log.info("publish.cancelled_entry_deleted")
            raise _Stop
        if entry.version == row.entry_version:
            return
        now = self.now()
        if row.when == "scheduled" and entry.scheduled_at > now + timedelta(seconds=1):
            # Moved later: wait for the new time (the claim did not count as an attempt).
            await self._move(Event.release, release=True, attempts=row.attempts - 1,
                             run_after=entry.scheduled_at)
            log.info("publish.rescheduled_after_edit")
            raise _Stop
        req = build_request(entry, intent_id=row.id, account_id=self.req.account_id,
                            when=row.when, now=now, privacy_level=self.req.privacy_level,
                            options=self.req.options)
        findings = request_findings(req, self.adapter, now)
        payload = self.adapter.build_payload(req)
        if findings:
            await self._finish(Event.permanent_failure, "failed", payload=payload,
                               entry_version=entry.version, error=findings_error(findings))
        self.req, self.handle = req, None
        await update_claimed(self.w.engine, row.id, self.token, self.status,
                             request=req.model_dump(mode="json"), payload=payload,
                             entry_version=entry.version, platform_handle=None,
                             updated_at=now)
        log.info("publish.entry_refreshed", entryVersion=entry.version)

    async def _no_credentials(self) -> None:
        error = self._auth_error
        if error is None:  # transient refresh failure: the connection is fine, try later
            await self._retry_or_fail(RetryLater("channel_refresh_unavailable",
                                                 "could not refresh the token; will retry",
                                                 retry_after=self.cfg.retry_base))
        await self._finish(Event.auth_failed, "needs_reauth", error=error)

    async def _before_send(self) -> None:
        try:
            await self._call("preflight", lambda c: self.adapter.preflight(c, self.req))
            if self.handle is None:
                handle = await self._call("prepare", lambda c: self.adapter.prepare(c, self.req))
                if handle:
                    # Committed together with `submitting`, before the irreversible call.
                    self.handle = handle
        except AuthError as exc:
            await self._finish(Event.auth_failed, "needs_reauth", error=exc.as_error())
        except PermanentError as exc:
            await self._finish(Event.permanent_failure, "failed", error=exc.as_error(),
                               platform_handle=exc.handle or self.handle)
        except (_Stop, StaleClaim):
            raise
        except Exception as exc:  # read-only or reversible steps: safe to retry
            await self._retry_or_fail(exc)

    async def _send(self) -> None:
        now = self.now()
        # Committed before the call: a crash from here on can only end in reconcile.
        await self._move(Event.submit, submitted_at=now, polls=0, platform_handle=self.handle,
                         lease_expires_at=now + self.cfg.lease)
        self._lease_until = now + self.cfg.lease
        heartbeat = asyncio.create_task(self._heartbeat())
        started = self.now()
        t0 = time.perf_counter()
        try:
            result = await self.adapter.publish(self.creds, self.req, self.handle,  # type: ignore[arg-type]
                                                on_handle=self._save_handle)
        except StaleClaim:
            raise
        except AuthError as exc:
            self._log("publish", "auth_failed", started, error=exc.as_error())
            PUBLISH_ATTEMPTS.labels(channel=self.row.channel, outcome="needs_reauth").inc()
            # Refused before anything was accepted: refresh once and queue again right away.
            if not exc.needs_scope and not self.refreshed and \
                    await self._credentials(force=True) is not None:
                await self._move(Event.retry_later, release=True, error=exc.as_error(),
                                 run_after=self.now(), attempts=self.row.attempts - 1)
                raise _Stop from None
            await self._finish(Event.auth_failed, "needs_reauth", error=exc.as_error())
        except RetryLater as exc:
            self._log("publish", "retry", started, error=exc.as_error())
            PUBLISH_ATTEMPTS.labels(channel=self.row.channel, outcome="retry").inc()
            await self._retry_or_fail(exc)
        except PermanentError as exc:
            self._log("publish", "failed", started, error=exc.as_error())
            PUBLISH_ATTEMPTS.labels(channel=self.row.channel, outcome="failed").inc()
            await self._finish(Event.permanent_failure, "failed", error=exc.as_error(),
                               platform_handle=exc.handle or self.handle)
        except Exception as exc:  # OutcomeUnknown, or anything else mid-call: may be live
            handle = (exc.handle if isinstance(exc, ChannelError) else None) or self.handle
            self.handle = handle
            self._log("publish", "unknown", started, error=_error(exc))
            PUBLISH_ATTEMPTS.labels(channel=self.row.channel, outcome="unknown").inc()
            log.error("publish.outcome_unknown", handle=handle, errorType=type(exc).__name__,
                      reconcile=handle is not None or not isinstance(exc, OutcomeUnknown))
            await self._move(Event.outcome_unknown, release=True, error=_error(exc),
                             platform_handle=handle, polls=0,
                             run_after=self.now() + timedelta(
                                 seconds=self.cfg.reconcile_delays[0]))
            PUBLISH_RESULTS.labels(channel=self.row.channel, outcome="unknown").inc()
            raise _Stop from None
        finally:
            heartbeat.cancel()
        self._log("publish", result.state, started,
                  detail={**result.detail, "seconds": round(time.perf_counter() - t0, 4)})
        await self._apply(result, "publish")

    async def _save_handle(self, handle: str) -> None:
        self.handle = handle
        await update_claimed(self.w.engine, self.row.id, self.token, self.status,
                             platform_handle=handle, updated_at=self.now())

    async def _heartbeat(self) -> None:
        interval = self.cfg.lease.total_seconds() / 3
        with contextlib.suppress(StaleClaim, asyncio.CancelledError):
            while True:
                await asyncio.sleep(interval)
                until = self.now() + self.cfg.lease
                await update_claimed(self.w.engine, self.row.id, self.token, self.status,
                                     lease_expires_at=until)
                self._lease_until = until

    async def _apply(self, result: AdapterResult, step: str) -> None:
        """Record what the platform said after publish/poll/reconcile."""
        handle = result.handle or self.handle
        if result.state == "published":
            PUBLISH_ATTEMPTS.labels(channel=self.row.channel, outcome="published").inc()
            await self._finish(Event.published, "published", platform_handle=handle,
                               platform_post_id=result.platform_post_id, error=None)
        if result.state == "processing":
            PUBLISH_ATTEMPTS.labels(channel=self.row.channel, outcome="queued").inc()
            self._polls = self._polls + 1 if step == "poll" else 0
            submitted = self.row.submitted_at or self.now()
            if step == "poll" and self.now() - submitted > self.cfg.poll_deadline:
                await self._to_human("the platform is still processing after "
                                     f"{self.cfg.poll_deadline}; check the account")
            delay = self.cfg.poll_delays[min(self._polls, len(self.cfg.poll_delays) - 1)]
            lease_left = (self._lease_until - self.now()).total_seconds()
            if self.creds is not None and step in ("publish", "poll") \
                    and delay <= self._inline_left and delay + 5.0 < lease_left:
                # Keep the claim and ask again shortly: cheaper than release and re-claim.
                self._inline_left -= delay
                if self.handle != handle:  # normally already saved through on_handle
                    await update_claimed(self.w.engine, self.row.id, self.token, self.status,
                                         platform_handle=handle, updated_at=self.now())
                # Still `submitting` with the handle saved and the lease held: a crash now is
                # reconciled by asking the platform about that handle, never by resending.
                self.handle = handle
                await asyncio.sleep(delay)
                await self._poll_once()
                return
            await self._move(Event.accepted, release=True, platform_handle=handle,
                             polls=self._polls, run_after=self.now() + timedelta(seconds=delay))
            raise _Stop
        # not_published: only reconcile says this; publish/poll never should.
        await self._move(Event.outcome_unknown, release=True, platform_handle=handle,
                         run_after=self.now() + timedelta(seconds=self.cfg.reconcile_delays[0]))
        raise _Stop

    # -- accepted, still processing ---------------------------------------------------------
    async def poll(self) -> None:
        self._auth_error = None
        if self.handle is None or await self._credentials() is None:
            await self._move(Event.outcome_unknown, release=True, polls=0,
                             error=self._auth_error or {"code": "publish_handle_missing",
                                                        "message": "nothing to poll"},
                             run_after=self.now() + timedelta(
                                 seconds=self.cfg.reconcile_delays[0]))
            raise _Stop
        await self._poll_once()

    async def _poll_once(self) -> None:
        handle = self.handle
        assert handle is not None
        try:
            # The row says `published` when this poll saw the post live: the claim reads that
            # back to refuse a second send of the same intent.
            result = await self._call("poll", lambda c: self.adapter.poll(c, self.req, handle),
                                      outcome=lambda r: r.state)
        except PermanentError as exc:
            PUBLISH_ATTEMPTS.labels(channel=self.row.channel, outcome="failed").inc()
            await self._finish(Event.permanent_failure, "failed", error=exc.as_error())
        except (_Stop, StaleClaim):
            raise
        except Exception as exc:  # a read: ask again later
            delay = exc.retry_after if isinstance(exc, RetryLater) else self._backoff(None)
            await self._move(Event.accepted, release=True, error=_error(exc),
                             run_after=self.now() + timedelta(seconds=delay))
            raise _Stop from None
        await self._apply(result, "poll")

    # -- unclear outcome --------------------------------------------------------------------
    async def _to_human(self, message: str) -> None:
        log.error("publish.unknown_needs_human", handle=self.handle, message=message)
        await self._move(Event.outcome_unknown, release=True, run_after=None,
                         error={"code": "publish_outcome_unknown", "message": message})
        raise _Stop

    async def reconcile(self) -> None:
        polls = (self.row.polls or 0) + 1
        self._auth_error = None
        if await self._credentials() is None:
            await self._again_later(polls, self._auth_error)
        started = self.now()
        try:
            assert self.creds is not None
            result = await self.adapter.reconcile(self.creds, self.req, self.handle)
        except PermanentError as exc:
            self._log("reconcile", "failed", started, error=exc.as_error())
            await self._finish(Event.permanent_failure, "failed", error=exc.as_error())
        except Exception as exc:
            self._log("reconcile", "error", started, error=_error(exc))
            await self._again_later(polls, _error(exc))
        self._log("reconcile", "none" if result is None else result.state, started,
                  detail=None if result is None else result.detail)
        if result is None:
            await self._to_human("could not confirm whether the post went live; check the "
                                 "account before publishing it again")
            return
        if result.state == "not_published":
            submitted = self.row.submitted_at
            if submitted is not None and self.now() - submitted < 2 * self.cfg.lease:
                # The call that went missing may still be in flight somewhere: look again
                # once it cannot be anymore.
                await self._move(Event.outcome_unknown, release=True, polls=polls,
                                 run_after=submitted + 2 * self.cfg.lease)
                raise _Stop
            log.info("publish.reconciled_not_sent", handle=self.handle)
            await self._move(Event.reconciled_not_sent, release=True,
                             platform_handle=result.handle, run_after=self.now(),
                             error={"code": "reconciled_not_sent",
                                    "message": "the platform has no such post; sending again"})
            raise _Stop
        await self._apply(result, "reconcile")

    async def _again_later(self, polls: int, error: dict[str, Any] | None) -> None:
        if polls > len(self.cfg.reconcile_delays):
            await self._to_human("could not reach the platform to confirm the post; check the "
                                 "account before publishing it again")
        delay = self.cfg.reconcile_delays[polls - 1]
        await self._move(Event.outcome_unknown, release=True, polls=polls, error=error,
                         run_after=self.now() + timedelta(seconds=delay))
        raise _Stop

    # -- the worker itself failed -----------------------------------------------------------
    async def _after_crash(self, exc: Exception) -> None:
        if self.status == S.claimed:
            await self._retry_or_fail(exc)
        elif self.status == S.submitting:
            await self._move(Event.outcome_unknown, release=True, error=_error(exc),
                             run_after=self.now() + timedelta(
                                 seconds=self.cfg.reconcile_delays[0]))
        elif self.status in (S.processing, S.unknown):
            await update_claimed(self.w.engine, self.row.id, self.token, self.status,
                                 claim_token=None, lease_expires_at=None,
                                 run_after=self.now() + timedelta(seconds=self._backoff(None)))
