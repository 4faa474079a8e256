"""The fresh path of a job: a claimed intent not yet sent, driven up to the irreversible call.

Order: publishing still switched on → credentials (refreshed if due) → the entry as saved now
(re-read only when its version changed since it was queued; an edit re-validates and may
re-schedule, a deletion cancels) → account pacing → preflight (read-only) → prepare
(reversible; its handle is committed) → `submitting` committed → publish (THE irreversible call,
at most once) → published | processing (polled: `followup`) | pending (definitely not sent:
retry later) | failed | needs_reauth | unknown (reconciled, never resent).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from postplan.calendars import service as calendars
from postplan.channels.base import (
    AuthError,
    ChannelError,
    OutcomeUnknown,
    PermanentError,
    RetryLater,
)
from postplan.core.flags import Flag
from postplan.core.logging import get_logger
from postplan.core.metrics import PUBLISH_ATTEMPTS, PUBLISH_RESULTS
from postplan.models import CalendarEntry
from postplan.publishing.dbutil import single_statements
from postplan.publishing.media import (
    attached_media,
    bind_stored_media,
    load_entry_media,
    resources_for,
    with_cover,
)
from postplan.publishing.requests import build_request, findings_error
from postplan.publishing.states import Event
from postplan.publishing.worker.claims import StaleClaim
from postplan.publishing.worker.followup import apply_result
from postplan.publishing.worker.job import Job, Stop, error_of
from postplan.publishing.worker.revalidate import request_findings

log = get_logger("postplan.publishing.worker")


async def submit(job: Job) -> None:
    """Send a fresh intent, at most once, or say why not now (every branch ends in a move)."""
    row = job.row
    if not job.ctx.flags.is_enabled(Flag.publish_service, row.user_id):
        # Publishing was switched off after this was queued: keep it, send nothing.
        await job.move(Event.release, release=True, attempts=row.attempts - 1,
                       run_after=job.now() + timedelta(seconds=job.cfg.flag_off_delay))
        log.info("publish.deferred_flag_off")
        raise Stop
    if row.attempts > job.cfg.max_attempts:
        await job.finish(Event.permanent_failure, "failed",
                         error=row.error or {"code": "retries_exhausted",
                                             "message": "gave up after retries"})
    # The claim read the entry's version: unchanged (the usual case) means no second read.
    unchanged = job.entry_version_now is not None and \
        job.entry_version_now == row.entry_version
    entry: CalendarEntry | None = None
    if unchanged:
        creds = await job.credentials(stored=job.connection)
    else:
        # One checkout for both reads (the connection, and the entry as saved now),
        # outside a transaction on Postgres: plain reads need no BEGIN/ROLLBACK.
        async with (single_statements(job.ctx.engine) or job.ctx.engine).connect() as conn:
            creds = await job.credentials(conn=conn)
            entry = await _read_entry(job, conn) if creds or job.refresh_due else None
    if job.refresh_due:  # refreshing takes a connection of its own; this one is back
        creds = await job.credentials()
    if creds is None:
        await _no_credentials(job)
    assert job.creds is not None
    if not unchanged:
        await _latest_entry(job, entry)
    async with job.ctx.limiter.account(row.channel, job.creds.account_id):
        wait = await job.ctx.limiter.reserve(row.channel, job.creds.account_id)
        if wait > 0:
            await job.move(Event.release, release=True, attempts=row.attempts - 1,
                           run_after=job.now() + timedelta(seconds=wait))
            log.info("publish.rate_deferred", delaySeconds=round(wait, 3))
            raise Stop
        await _before_send(job)
        await _send(job)


async def _read_entry(job: Job, conn: AsyncConnection) -> CalendarEntry | None:
    """The entry as saved now, or None when it (or its calendar) is gone."""
    row = job.row
    async with AsyncSession(bind=conn) as session:
        return await calendars.entry_now(session, row.user_id, row.calendar_id, row.entry_id)


async def _latest_entry(job: Job, entry: CalendarEntry | None) -> None:
    """Publish what the user sees now: an entry edited since it was queued is re-read,
    re-validated and re-scheduled; a deleted one cancels its intent."""
    row = job.row
    if entry is None:
        await job.move(Event.cancel, release=True,
                       error={"code": "entry_deleted",
                              "message": "the entry was deleted before it was published"})
        log.info("publish.cancelled_entry_deleted")
        raise Stop
    if entry.version == row.entry_version:
        return
    now = job.now()
    if row.when == "scheduled" and entry.scheduled_at > now + timedelta(seconds=1):
        # Moved later: wait for the new time (the claim did not count as an attempt).
        await job.move(Event.release, release=True, attempts=row.attempts - 1,
                       run_after=entry.scheduled_at)
        log.info("publish.rescheduled_after_edit")
        raise Stop
    async with AsyncSession(bind=job.ctx.engine, expire_on_commit=False) as session:
        stored = await load_entry_media(session, row.user_id, [entry])
    refs, media_findings = attached_media(entry, stored, resources_for(job.ctx.settings))
    # Built from the entry as saved now (its text and channelOptions); a privacy level the
    # publish call itself chose still applies when the entry names none.
    req = build_request(entry, intent_id=row.id, account_id=job.req.account_id,
                        when=row.when, now=now, media=refs)
    if req.privacy_level is None and job.req.privacy_level is not None:
        req = req.model_copy(update={"privacy_level": job.req.privacy_level})
    findings = media_findings + request_findings(req, job.adapter, now)
    payload = job.adapter.build_payload(with_cover(req, stored, resources_for(job.ctx.settings)))
    if findings:
        await job.finish(Event.permanent_failure, "failed", payload=payload,
                         entry_version=entry.version, error=findings_error(findings))
    await job.update(request=req.model_dump(mode="json"), payload=payload,
                     entry_version=entry.version, platform_handle=None, updated_at=now)
    job.handle = None
    try:
        job.req = await bind_stored_media(job.ctx.engine, job.ctx.settings, row.user_id, req)
    except PermanentError as exc:  # a file deleted since the read above
        await job.finish(Event.permanent_failure, "failed", error=exc.as_error())
    log.info("publish.entry_refreshed", entryVersion=entry.version)


async def _no_credentials(job: Job) -> None:
    """No usable credentials: try later when the refresh failed for now, else needs_reauth."""
    error = job.auth_error
    if error is None:  # transient refresh failure: the connection is fine, try later
        await job.retry_or_fail(RetryLater("channel_refresh_unavailable",
                                           "could not refresh the token; will retry",
                                           retry_after=job.cfg.retry_base))
    await job.finish(Event.auth_failed, "needs_reauth", error=error)


async def _before_send(job: Job) -> None:
    """Preflight and prepare: nothing irreversible, so any failure here may be retried."""
    try:
        await job.call("preflight", lambda c: job.adapter.preflight(c, job.req))
        if job.handle is None:
            handle = await job.call("prepare", lambda c: job.adapter.prepare(c, job.req))
            if handle:
                # Committed together with `submitting`, before the irreversible call.
                job.handle = handle
    except AuthError as exc:
        await job.finish(Event.auth_failed, "needs_reauth", error=exc.as_error())
    except PermanentError as exc:
        await job.finish(Event.permanent_failure, "failed", error=exc.as_error(),
                         platform_handle=exc.handle or job.handle)
    except (Stop, StaleClaim):
        raise
    except Exception as exc:  # read-only or reversible steps: safe to retry
        await job.retry_or_fail(exc)


async def _send(job: Job) -> None:
    """`submitting` committed, then the irreversible call; its answer is applied."""
    now = job.now()
    # Committed before the call: a crash from here on can only end in reconcile.
    await job.move(Event.submit, submitted_at=now, polls=0, platform_handle=job.handle,
                   lease_expires_at=now + job.cfg.lease)
    job.lease_until = now + job.cfg.lease
    heartbeat = asyncio.create_task(_heartbeat(job))
    started = job.now()
    t0 = time.perf_counter()
    try:
        result = await job.adapter.publish(job.creds, job.req, job.handle,  # type: ignore[arg-type]
                                           on_handle=functools.partial(_save_handle, job))
    except StaleClaim:
        raise
    except AuthError as exc:
        job.log_step("publish", "auth_failed", started, error=exc.as_error())
        PUBLISH_ATTEMPTS.labels(channel=job.row.channel, outcome="needs_reauth").inc()
        # Refused before anything was accepted: refresh once and queue again right away.
        if not exc.needs_scope and not job.refreshed and \
                await job.credentials(force=True) is not None:
            await job.move(Event.retry_later, release=True, error=exc.as_error(),
                           run_after=job.now(), attempts=job.row.attempts - 1)
            raise Stop from None
        await job.finish(Event.auth_failed, "needs_reauth", error=exc.as_error())
    except RetryLater as exc:
        job.log_step("publish", "retry", started, error=exc.as_error())
        PUBLISH_ATTEMPTS.labels(channel=job.row.channel, outcome="retry").inc()
        await job.retry_or_fail(exc)
    except PermanentError as exc:
        job.log_step("publish", "failed", started, error=exc.as_error())
        PUBLISH_ATTEMPTS.labels(channel=job.row.channel, outcome="failed").inc()
        await job.finish(Event.permanent_failure, "failed", error=exc.as_error(),
                         platform_handle=exc.handle or job.handle)
    except Exception as exc:  # OutcomeUnknown, or anything else mid-call: may be live
        handle = (exc.handle if isinstance(exc, ChannelError) else None) or job.handle
        job.handle = handle
        job.log_step("publish", "unknown", started, error=error_of(exc))
        PUBLISH_ATTEMPTS.labels(channel=job.row.channel, outcome="unknown").inc()
        log.error("publish.outcome_unknown", handle=handle, errorType=type(exc).__name__,
                  reconcile=handle is not None or not isinstance(exc, OutcomeUnknown))
        await job.move(Event.outcome_unknown, release=True, error=error_of(exc),
                       platform_handle=handle, polls=0,
                       run_after=job.now() + timedelta(
                           seconds=job.cfg.reconcile_delays[0]))
        PUBLISH_RESULTS.labels(channel=job.row.channel, outcome="unknown").inc()
        raise Stop from None
    finally:
        heartbeat.cancel()
    job.log_step("publish", result.state, started,
                 detail={**result.detail, "seconds": round(time.perf_counter() - t0, 4)})
    await apply_result(job, result, "publish")


async def _save_handle(job: Job, handle: str) -> None:
    """The platform's handle, saved the moment it exists (reconcile asks about it)."""
    job.handle = handle
    await job.update(platform_handle=handle, updated_at=job.now())


async def _heartbeat(job: Job) -> None:
    """Keep the lease while the irreversible call runs."""
    interval = job.cfg.lease.total_seconds() / 3
    with contextlib.suppress(StaleClaim, asyncio.CancelledError):
        while True:
            await asyncio.sleep(interval)
            until = job.now() + job.cfg.lease
            await job.update(lease_expires_at=until)
            job.lease_until = until
