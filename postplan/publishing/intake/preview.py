"""`GET /v1/calendars/{calendarId}/entries/{entryId}/preview`: exactly what a publish would
send for one entry, and what a dry run would find, without recording anything.

The request is built by the same `requests.build_request` the publish endpoint and the worker
use (so the text is the one composer's), and the findings come from the same adapter
`validate` a dry run calls, with the same count of the account's posts around that time.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from postplan.calendars import service as calendars
from postplan.core.auth import CurrentUser
from postplan.core.context import bind
from postplan.core.db import utcnow
from postplan.core.deps import AppSettings, Session
from postplan.core.openapi import problem_responses
from postplan.core.schemas import Schema
from postplan.core.zones import shifted
from postplan.publishing.gateway import Gateway
from postplan.publishing.intake.service import DAY, _accounts, _recent_posts
from postplan.publishing.media import (
    attached_media,
    load_entry_media,
    resources_for,
    with_cover,
)
from postplan.publishing.requests import (
    build_request,
    channel_options,
    dry_run_intent_id,
    entry_text,
)

router = APIRouter(tags=["publishing"])


class ChannelPreview(Schema):
    channel: str
    format: str
    text: str
    title: str | None
    media: list[dict[str, Any]]
    options: dict[str, Any]
    privacy_level: str | None
    findings: list[dict[str, Any]]
    ok: bool
    payload: dict[str, Any]


class PreviewOut(Schema):
    entry_id: uuid.UUID
    version: int
    channels: list[ChannelPreview]


@router.get("/calendars/{calendar_id}/entries/{entry_id}/preview", response_model=PreviewOut,
            responses=problem_responses(404))
async def preview(calendar_id: uuid.UUID, entry_id: uuid.UUID, user: CurrentUser,
                  session: Session, gateway: Gateway, settings: AppSettings) -> PreviewOut:
    """Per channel: the composed text, media in order, options, the findings a dry run would
    report and the exact requests the adapter would send."""
    bind(calendarId=str(calendar_id))
    entry = await calendars.get_entry(session, user.id, calendar_id, entry_id)
    now = utcnow()
    accounts = await _accounts(session, user.id)
    # Stored files too, resolved as a publish resolves them (signed URLs, their findings).
    stored = await load_entry_media(session, user.id, [entry])
    refs, media_findings = attached_media(entry, stored, resources_for(settings))
    req = build_request(entry, intent_id=dry_run_intent_id(user.id, entry, "scheduled", None),
                        when="scheduled", now=now,
                        account_id=accounts.get(entry.channel, "unconnected"), media=refs)
    recent = await _recent_posts(session, user.id, {entry.channel},
                                 shifted(req.scheduled_at, -DAY), req.scheduled_at)
    adapter = gateway.adapter(entry.channel)
    findings = media_findings + adapter.validate(
        req, now=now, posts_in_last_24h=len(recent.get(entry.channel, [])))
    text = entry_text(entry)
    return PreviewOut(entry_id=entry.id, version=entry.version, channels=[ChannelPreview(
        channel=entry.channel, format=entry.format, text=req.caption, title=text.title,
        media=[m.model_dump() for m in req.media], options=channel_options(entry),
        privacy_level=req.privacy_level,
        findings=[f.model_dump(exclude_none=True) for f in findings], ok=not findings,
        payload=adapter.build_payload(with_cover(req, stored, resources_for(settings))))])


__all__ = ["router"]
