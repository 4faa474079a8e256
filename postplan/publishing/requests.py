"""Turning a saved calendar entry into the PublishRequest an adapter understands, and an
adapter's offline findings into an intent's `error`: the same for the endpoint and the worker."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from postplan.channels.base import Finding, MediaRef, PublishRequest
from postplan.core.vocab import Channel, EntryFormat
from postplan.models import CalendarEntry

#: The only privacy level an unaudited TikTok app may use; the safe default.
DEFAULT_TIKTOK_PRIVACY = "SELF_ONLY"
DRY_RUN_NAMESPACE = uuid.UUID("6f1c3a52-4b8e-5d2a-9c7e-2f7d0e5b1a90")


def compose_caption(caption: str, hashtags: list[str]) -> str:
    """The text as it should appear: the caption, then any hashtag it does not already hold."""
    lowered = caption.lower()
    missing = [f"#{tag}" for tag in hashtags if f"#{tag.lower()}" not in lowered]
    if not missing:
        return caption
    return f"{caption.rstrip()}\n\n{' '.join(missing)}" if caption.strip() else " ".join(missing)


def dry_run_intent_id(user_id: str, entry: CalendarEntry, when: str,
                      privacy_level: str | None) -> uuid.UUID:
    """Deterministic id for a dry-run intent: same user, entry version and options → same id."""
    name = "|".join([user_id, str(entry.calendar_id), str(entry.id), entry.channel,
                     str(entry.version), when, privacy_level or ""])
    return uuid.uuid5(DRY_RUN_NAMESPACE, name)


def build_request(
    entry: CalendarEntry, *, intent_id: uuid.UUID, account_id: str, when: str,
    now: dt.datetime, privacy_level: str | None, options: dict[str, Any] | None = None,
    media: Sequence[MediaRef] | None = None,
) -> PublishRequest:
    """The adapter's view of an entry; `when=now` publishes at `now`, not at `scheduledAt`.
    `media` is the entry's media resolved by `publishing.media.attached_media` (stored files
    by id, with their signed URL); without it only hosted `{url, type}` items are read."""
    channel = Channel(entry.channel)
    if channel is Channel.tiktok and privacy_level is None:
        privacy_level = DEFAULT_TIKTOK_PRIVACY
    return PublishRequest(
        intent_id=str(intent_id),
        channel=channel,
        format=EntryFormat(entry.format),
        caption=compose_caption(entry.caption, list(entry.hashtags or [])),
        hashtags=list(entry.hashtags or []),
        media=list(media) if media is not None else [
            MediaRef(url=str(m.get("url", "")), type=m.get("type", "image"))
            for m in entry.media or [] if "mediaId" not in m],
        scheduled_at=now if when == "now" else entry.scheduled_at,
        account_id=account_id,
        privacy_level=privacy_level if channel is Channel.tiktok else None,
        options=dict(options or {}),
    )


def findings_error(findings: Sequence[Finding]) -> dict[str, Any] | None:
    """The intent `error` for offline findings: the first one, with all of them attached."""
    if not findings:
        return None
    first = findings[0]
    error: dict[str, Any] = {"code": first.code, "message": first.message}
    if first.field:
        error["field"] = first.field
    if len(findings) > 1:
        error["message"] = "; ".join(f.message for f in findings)
    error["findings"] = [f.model_dump(exclude_none=True) for f in findings]
    return error
