"""What follows a post once it is live: Instagram's first comment, as a step of its own.

It runs once the publish is recorded (the intent is `published` and released), so a crash or
a slow platform here can never cost the record of a live post. The comment is its own attempt
row (`first_comment`: ok, failed or skipped), written on its own; a comment that fails leaves
the post `published` and is never a reason to send the post again.
"""

from __future__ import annotations

from postplan.channels.base import AdapterResult
from postplan.core.logging import get_logger
from postplan.publishing.worker.claims import attempt_row, record_attempts
from postplan.publishing.worker.job import Job, error_of

log = get_logger("postplan.publishing.worker")


async def after_published(job: Job, result: AdapterResult) -> None:
    """Post the entry's first comment when it has one (never raises)."""
    message = str(job.req.options.get("first_comment") or "").strip()
    post = getattr(job.adapter, "first_comment", None)
    if not message or post is None or job.creds is None:
        return
    started = job.now()
    media_id = result.platform_post_id
    outcome, error, detail = "ok", None, None
    if not media_id:
        # Settled by reconcile from the container alone: the media id is not known.
        outcome, error = "skipped", {"code": "first_comment_no_media_id",
                                     "message": "the post's media id is not known; comment by hand"}
    else:
        try:
            detail = {"commentId": await post(job.creds, job.req, media_id)}
        except Exception as exc:  # the post is live whatever happens to its comment
            outcome, error = "failed", error_of(exc)
            log.warning("publish.first_comment_failed", error=error)
    row = attempt_row(job.row, "first_comment", outcome, started=started, finished=job.now(),
                      error=error, detail=detail)
    try:
        await record_attempts(job.ctx.engine, [row])
    except Exception as exc:  # the database is gone: the log line is the record left
        log.warning("publish.first_comment_unrecorded", outcome=outcome, error=error_of(exc))
