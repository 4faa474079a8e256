"""The follow-up paths of a job: an intent already sent, or a job that crashed.

After the irreversible call an intent is never sent again: `processing` is polled until the
platform says published or failed (inline while the claim allows, else handed back with a
delay); `unknown` (the answer was lost, or a worker vanished mid-call) is reconciled by asking
the platform, and resent only once it proved nothing was posted. What could not be settled
goes to a human. `after_crash` hands an intent back in a state its next claim can resume.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from postplan.channels.base import AdapterResult, PermanentError, RetryLater
from postplan.core.logging import get_logger
from postplan.core.metrics import PUBLISH_ATTEMPTS
from postplan.publishing.states import Event, IntentStatus
from postplan.publishing.worker.claims import StaleClaim
from postplan.publishing.worker.extras import after_published
from postplan.publishing.worker.job import Job, Stop, error_of

log = get_logger("postplan.publishing.worker")

S = IntentStatus

async def apply_result(job: Job, result: AdapterResult, step: str) -> None:
    """Record what the platform said after publish/poll/reconcile."""
    handle = result.handle or job.handle
    if result.state == "published":
        PUBLISH_ATTEMPTS.labels(channel=job.row.channel, outcome="published").inc()
        # The publish is recorded before anything that follows it: a crash during the first
        # comment must never leave a live post unrecorded.
        try:
            await job.finish(Event.published, "published", platform_handle=handle,
                             platform_post_id=result.platform_post_id, error=None)
        finally:
            if job.status == S.published.value:
                await after_published(job, result)
    if result.state == "processing":
        PUBLISH_ATTEMPTS.labels(channel=job.row.channel, outcome="queued").inc()
        job.polls = job.polls + 1 if step == "poll" else 0
        submitted = job.row.submitted_at or job.now()
        if step == "poll" and job.now() - submitted > job.cfg.poll_deadline:
            await to_human(job, "the platform is still processing after "
                                f"{job.cfg.poll_deadline}; check the account")
        delay = job.cfg.poll_delays[min(job.polls, len(job.cfg.poll_delays) - 1)]
        lease_left = (job.lease_until - job.now()).total_seconds()
        if job.creds is not None and step in ("publish", "poll") \
                and delay <= job.inline_left and delay + 5.0 < lease_left:
            # Keep the claim and ask again shortly: cheaper than release and re-claim.
            job.inline_left -= delay
            if job.handle != handle:  # normally already saved through on_handle
                await job.update(platform_handle=handle, updated_at=job.now())
            # Still `submitting` with the handle saved and the lease held: a crash now is
            # reconciled by asking the platform about that handle, never by resending.
            job.handle = handle
            await asyncio.sleep(delay)
            await poll_once(job)
            return
        await job.move(Event.accepted, release=True, platform_handle=handle,
                       polls=job.polls, run_after=job.now() + timedelta(seconds=delay))
        raise Stop
    # not_published: only reconcile says this; publish/poll never should.
    await job.move(Event.outcome_unknown, release=True, platform_handle=handle,
                   run_after=job.now() + timedelta(seconds=job.cfg.reconcile_delays[0]))
    raise Stop


async def poll(job: Job) -> None:
    """Accepted, still processing: ask the platform again (or reconcile without a handle)."""
    job.auth_error = None
    if job.handle is None or await job.credentials() is None:
        await job.move(Event.outcome_unknown, release=True, polls=0,
                       error=job.auth_error or {"code": "publish_handle_missing",
                                                "message": "nothing to poll"},
                       run_after=job.now() + timedelta(
                           seconds=job.cfg.reconcile_delays[0]))
        raise Stop
    await poll_once(job)


async def poll_once(job: Job) -> None:
    """One status poll, its answer applied (a failed read is asked again later)."""
    handle = job.handle
    assert handle is not None
    try:
        # The row says `published` when this poll saw the post live: the claim reads that
        # back to refuse a second send of the same intent.
        result = await job.call("poll", lambda c: job.adapter.poll(c, job.req, handle),
                                outcome=lambda r: r.state)
    except PermanentError as exc:
        PUBLISH_ATTEMPTS.labels(channel=job.row.channel, outcome="failed").inc()
        await job.finish(Event.permanent_failure, "failed", error=exc.as_error())
    except (Stop, StaleClaim):
        raise
    except Exception as exc:  # a read: ask again later
        delay = exc.retry_after if isinstance(exc, RetryLater) else job.backoff(None)
        await job.move(Event.accepted, release=True, error=error_of(exc),
                       run_after=job.now() + timedelta(seconds=delay))
        raise Stop from None
    await apply_result(job, result, "poll")


async def to_human(job: Job, message: str) -> None:
    """Leave the intent `unknown` with nothing scheduled: only a person can settle it."""
    log.error("publish.unknown_needs_human", handle=job.handle, message=message)
    await job.move(Event.outcome_unknown, release=True, run_after=None,
                   error={"code": "publish_outcome_unknown", "message": message})
    raise Stop


async def reconcile(job: Job) -> None:
    """Unclear outcome: ask the platform whether the post exists; resend only when it proved
    nothing was posted, and not before the call that went missing can no longer land."""
    polls = (job.row.polls or 0) + 1
    job.auth_error = None
    if await job.credentials() is None:
        await _again_later(job, polls, job.auth_error)
    started = job.now()
    try:
        assert job.creds is not None
        result = await job.adapter.reconcile(job.creds, job.req, job.handle)
    except PermanentError as exc:
        job.log_step("reconcile", "failed", started, error=exc.as_error())
        await job.finish(Event.permanent_failure, "failed", error=exc.as_error())
    except Exception as exc:
        job.log_step("reconcile", "error", started, error=error_of(exc))
        await _again_later(job, polls, error_of(exc))
    job.log_step("reconcile", "none" if result is None else result.state, started,
                 detail=None if result is None else result.detail)
    if result is None:
        await to_human(job, "could not confirm whether the post went live; check the "
                            "account before publishing it again")
        return
    if result.state == "not_published":
        submitted = job.row.submitted_at
        guard = job.cfg.resend_guard if job.cfg.resend_guard is not None else 2 * job.cfg.lease
        answered = isinstance(job.row.error, dict) and bool(job.row.error.get("httpStatus"))
        if submitted is not None and not answered and job.now() - submitted < guard:
            # The call that went missing may still be in flight somewhere: look again
            # once it cannot be anymore. (A call the platform answered, even with a 5xx,
            # is over: nothing of it can land later.)
            await job.move(Event.outcome_unknown, release=True, polls=polls,
                           run_after=submitted + guard)
            raise Stop
        log.info("publish.reconciled_not_sent", handle=job.handle)
        await job.move(Event.reconciled_not_sent, release=True,
                       platform_handle=result.handle, run_after=job.now(),
                       error={"code": "reconciled_not_sent",
                              "message": "the platform has no such post; sending again"})
        raise Stop
    await apply_result(job, result, "reconcile")


async def _again_later(job: Job, polls: int, error: dict[str, Any] | None) -> None:
    if polls > len(job.cfg.reconcile_delays):
        await to_human(job, "could not reach the platform to confirm the post; check the "
                            "account before publishing it again")
    delay = job.cfg.reconcile_delays[polls - 1]
    await job.move(Event.outcome_unknown, release=True, polls=polls, error=error,
                   run_after=job.now() + timedelta(seconds=delay))
    raise Stop


async def after_crash(job: Job, exc: Exception) -> None:
    """The worker itself failed mid-job: hand the intent back so its next claim resumes it
    (a send that may have gone out is reconciled, never repeated)."""
    if job.status == S.claimed:
        await job.retry_or_fail(exc)
    elif job.status == S.submitting:
        await job.move(Event.outcome_unknown, release=True, error=error_of(exc),
                       run_after=job.now() + timedelta(
                           seconds=job.cfg.reconcile_delays[0]))
    elif job.status in (S.processing, S.unknown):
        await job.update(claim_token=None, lease_expires_at=None,
                         run_after=job.now() + timedelta(seconds=job.backoff(None)))
