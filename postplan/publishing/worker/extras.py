"""What follows a post once it is live: Instagram's first comment, as a step of its own.

The comment is recorded as its own attempt row (`first_comment`: ok, failed or skipped). A
comment that fails leaves the post `published` and is never a reason to send the post again.
"""

from __future__ import annotations

from postplan.channels.base import AdapterResult
from postplan.core.logging import get_logger
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
    if not media_id:
        # Settled by reconcile from the container alone: the media id is not known.
        job.log_step("first_comment", "skipped", started,
                     error={"code": "first_comment_no_media_id",
                            "message": "the post's media id is not known; comment by hand"})
        return
    try:
        comment_id = await post(job.creds, job.req, media_id)
    except Exception as exc:  # the post is live whatever happens to its comment
        job.log_step("first_comment", "failed", started, error=error_of(exc))
        log.warning("publish.first_comment_failed", error=error_of(exc))
        return
    job.log_step("first_comment", "ok", started, detail={"commentId": comment_id})
