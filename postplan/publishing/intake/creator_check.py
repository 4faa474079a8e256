"""Before a live publish `now` with TikTok direct posts: TikTok's creator_info, read once, must
allow the person's choices (a privacy level on offer, no interaction the creator switched off turned
on), else the publish is refused (422) before anything is recorded.

It runs on a read-only session before the write transaction, so no database lock is held
while TikTok answers. The worker asks creator_info again right before each send (the adapter's
preflight): this check is the early answer, not the only guard. When TikTok cannot be asked now
(not connected, a token to refresh, a network error) it steps aside and the worker decides.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from postplan.calendars import service as calendars
from postplan.channels.base import ChannelError, PermanentError
from postplan.channels.tiktok.payloads import DIRECT_POST, post_mode
from postplan.channels.tiktok.rules import creator_findings
from postplan.config import Settings
from postplan.core.db import utcnow
from postplan.core.errors import Unprocessable
from postplan.core.logging import get_logger
from postplan.publishing.connections.credentials import CredentialStore
from postplan.publishing.gateway import ChannelGateway
from postplan.publishing.requests import build_request
from postplan.publishing.schemas import PublishBody

log = get_logger(__name__)


async def check_creator_choices(session: AsyncSession, settings: Settings,
                                gateway: ChannelGateway, user_id: str, calendar_id: uuid.UUID,
                                body: PublishBody) -> None:
    """422 with the first creator finding (`tiktok_privacy_not_offered`,
    `tiktok_interaction_disabled`, `tiktok_video_too_long`) or `tiktok_creator_cannot_post`."""
    if body.dry_run or body.when != "now" or \
            (body.channels and "tiktok" not in {c.value for c in body.channels}):
        # A scheduled post is checked by the worker when it is due: the creator's settings
        # may change until then, and nothing is sent now.
        return
    rows, _ = await calendars.list_entries(session, user_id, calendar_id,
                                           entry_ids=body.entry_ids)
    now = utcnow()
    reqs = [(entry.id, build_request(entry, intent_id=uuid.uuid4(), account_id="", when=body.when,
                                     now=now, privacy_level=body.privacy_level))
            for entry in rows if entry.channel == "tiktok"]
    reqs = [(entry_id, req) for entry_id, req in reqs if post_mode(req) == DIRECT_POST]
    adapter = gateway.adapter("tiktok") if reqs else None
    fetch = getattr(adapter, "creator_info", None)
    if fetch is None or session.bind is None:
        return
    result = await CredentialStore(session.bind, settings).get(user_id, "tiktok", None)  # type: ignore[arg-type]
    if result.creds is None:
        return  # the connection check that follows answers this
    try:
        info = await fetch(result.creds)
    except PermanentError as exc:
        raise Unprocessable(f"TikTok says this account cannot post now: {exc.message}",
                            code="tiktok_creator_cannot_post",
                            extra={"platformCode": exc.platform_code}) from None
    except ChannelError as exc:
        log.warning("publish.creator_info_unavailable", code=exc.code)
        return
    for entry_id, req in reqs:
        findings = creator_findings(req, info)
        if findings:
            first = findings[0]
            raise Unprocessable(first.message, code=first.code, extra={
                "entryId": str(entry_id),
                "errors": [{"field": f.field, "message": f.message} for f in findings]})
