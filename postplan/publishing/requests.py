"""Turning a saved calendar entry into the PublishRequest an adapter understands, and an
adapter's offline findings into an intent's `error`: the same for the endpoint, the preview and
the worker.

The text comes from the one composer (`channels.compose`), the options from the entry's
`channelOptions`; nothing is defaulted that a person must choose (TikTok's privacy level).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from postplan.channels.base import Finding, MediaRef, PublishRequest
from postplan.channels.compose import ComposedText, compose
from postplan.core.vocab import Channel, EntryFormat
from postplan.models import CalendarEntry

DRY_RUN_NAMESPACE = uuid.UUID("6f1c3a52-4b8e-5d2a-9c7e-2f7d0e5b1a90")

#: TikTok switches in `channelOptions.tiktok` → the request option of the same meaning.
_TIKTOK_SWITCHES = {"disableComment": "disable_comment", "disableDuet": "disable_duet",
                    "disableStitch": "disable_stitch", "brandContentToggle": "brand_content_toggle",
                    "brandOrganicToggle": "brand_organic_toggle", "isAigc": "is_aigc",
                    "musicUsageConfirmed": "music_usage_confirmed"}
#: Not for photos (TikTok takes no duet, stitch or AIGC label there).
_VIDEO_ONLY = {"disable_duet", "disable_stitch", "is_aigc"}
#: Instagram extras → request options (`thumbOffsetMs` is `thumb_offset`). `coverMediaId` is
#: carried as `cover_media_id`: the request names the stored file only by id, and the worker
#: signs a fresh `cover_url` for it just before sending (`publishing.media.bind_stored_media`).
_INSTAGRAM = {"altText": "alt_text", "thumbOffsetMs": "thumb_offset",
              "collaborators": "collaborators", "userTags": "user_tags",
              "locationId": "location_id", "shareToFeed": "share_to_feed",
              "firstComment": "first_comment", "coverMediaId": "cover_media_id"}


def entry_text(entry: CalendarEntry) -> ComposedText:
    """The composed text this entry's channel receives."""
    return compose(entry.hook, entry.caption, entry.call_to_action, list(entry.hashtags or []),
                   entry.channel, entry.format)


def channel_options(entry: CalendarEntry) -> dict[str, Any]:
    """The entry's own channel block of `channelOptions` (camelCase), `{}` when none."""
    stored = entry.channel_options or {}
    block = stored.get(entry.channel) if isinstance(stored, Mapping) else None
    return dict(block) if isinstance(block, Mapping) else {}


def options_digest(entry: CalendarEntry) -> str:
    """A short stable digest of the entry's options (dry-run ids change when they do)."""
    blob = json.dumps(entry.channel_options or {}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def dry_run_intent_id(user_id: str, entry: CalendarEntry, when: str,
                      privacy_level: str | None) -> uuid.UUID:
    """Deterministic id for a dry-run intent: same user, entry version and options → same id."""
    name = "|".join([user_id, str(entry.calendar_id), str(entry.id), entry.channel,
                     str(entry.version), when, privacy_level or "", options_digest(entry)])
    return uuid.uuid5(DRY_RUN_NAMESPACE, name)


def request_options(entry: CalendarEntry, text: ComposedText) -> tuple[str | None, dict[str, Any]]:
    """(TikTok privacy level or None, the adapter options) from the entry's `channelOptions`.
    Only what the person set is carried: an unset switch is off, an unset privacy is missing."""
    chosen = channel_options(entry)
    options: dict[str, Any] = {}
    if Channel(entry.channel) is Channel.tiktok:
        photo = EntryFormat(entry.format) is EntryFormat.photo
        if chosen.get("mode") == "draft":
            options["post_mode"] = "MEDIA_UPLOAD"
        for key, name in _TIKTOK_SWITCHES.items():
            if chosen.get(key) is not None and not (photo and name in _VIDEO_ONLY):
                options[name] = bool(chosen[key])
        if photo and text.title:
            options["title"] = text.title
        privacy = chosen.get("privacyLevel")
        return (str(privacy) if privacy else None), options
    for key, name in _INSTAGRAM.items():
        if chosen.get(key) is not None:
            options[name] = str(chosen[key]) if name == "cover_media_id" else chosen[key]
    return None, options


def build_request(
    entry: CalendarEntry, *, intent_id: uuid.UUID, account_id: str, when: str,
    now: dt.datetime, privacy_level: str | None = None, options: dict[str, Any] | None = None,
    media: Sequence[MediaRef] | None = None,
) -> PublishRequest:
    """The adapter's view of an entry; `when=now` publishes at `now`, not at `scheduledAt`.

    `privacy_level` (the publish call's own choice) wins over the entry's; `options` (a stored
    request's, carried over by the worker) are laid over the entry's. `media` is the entry's
    media resolved by `publishing.media.attached_media` (stored files by id, with their signed
    URL); without it only hosted `{url, type}` items are read."""
    channel = Channel(entry.channel)
    text = entry_text(entry)
    chosen_privacy, chosen = request_options(entry, text)
    if channel is Channel.tiktok:
        privacy_level = privacy_level or chosen_privacy
    return PublishRequest(
        intent_id=str(intent_id),
        channel=channel,
        format=EntryFormat(entry.format),
        caption=text.text,
        hashtags=list(entry.hashtags or []),
        media=list(media) if media is not None else [
            MediaRef(url=str(m.get("url", "")), type=m.get("type", "image"))
            for m in entry.media or [] if "mediaId" not in m],
        scheduled_at=now if when == "now" else entry.scheduled_at,
        account_id=account_id,
        privacy_level=privacy_level if channel is Channel.tiktok else None,
        options={**chosen, **dict(options or {})},
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
