"""One claimed intent: its stored request checked again, then the path its status calls for."""

from __future__ import annotations

import contextlib

from postplan.core.context import bound
from postplan.core.logging import get_logger
from postplan.publishing.states import IntentStatus
from postplan.publishing.worker import followup
from postplan.publishing.worker.claims import Claimed, StaleClaim
from postplan.publishing.worker.context import JobContext
from postplan.publishing.worker.fresh import submit
from postplan.publishing.worker.job import Job, Stop

log = get_logger("postplan.publishing.worker")

S = IntentStatus


async def run_job(ctx: JobContext, claimed: Claimed) -> None:
    """Drive one claimed intent one step further (never raises): `claimed` is sent
    (`fresh`), `processing` polled and `unknown` reconciled (`followup`)."""
    job = Job(ctx, claimed)
    row = job.row
    with bound(channel=row.channel, calendarId=str(row.calendar_id),
               runId=str(row.run_id) if row.run_id else None, userId=row.user_id,
               requestId=row.request_id, status=job.status, intentId=str(row.id)):
        try:
            await job.load()
            if job.status == S.claimed:
                await submit(job)
            elif job.status == S.processing:
                await followup.poll(job)
            elif job.status == S.unknown:
                if job.previous == S.submitting:
                    log.warning("publish.lease_expired_reconcile", handle=job.handle)
                await followup.reconcile(job)
        except (Stop, StaleClaim):
            pass
        except Exception as exc:
            log.exception("publish.worker_error", errorType=type(exc).__name__)
            with contextlib.suppress(Exception):
                await followup.after_crash(job, exc)
