"""The small vocabulary every layer shares: channels and the formats each one takes."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    tiktok = "tiktok"
    instagram = "instagram"


class EntryFormat(StrEnum):
    video = "video"
    photo = "photo"
    reel = "reel"
    carousel = "carousel"
    image = "image"
    story = "story"


FORMATS_BY_CHANNEL: dict[Channel, tuple[EntryFormat, ...]] = {
    Channel.tiktok: (EntryFormat.video, EntryFormat.photo),
    Channel.instagram: (
        EntryFormat.reel, EntryFormat.carousel, EntryFormat.image, EntryFormat.story,
    ),
}


class RunStatus(StrEnum):
    running = "running"
    completed = "completed"
    partial = "partial"
    failed = "failed"
    cancelled = "cancelled"


class RunMode(StrEnum):
    ai = "ai"
    planner = "planner"
    legacy = "legacy"


class IntentStatus(StrEnum):
    dry_run = "dry_run"
    pending = "pending"
    claimed = "claimed"
    submitting = "submitting"
    processing = "processing"
    published = "published"
    failed = "failed"
    needs_reauth = "needs_reauth"
    unknown = "unknown"
    cancelled = "cancelled"


TERMINAL_INTENT_STATUSES = frozenset(
    {IntentStatus.dry_run, IntentStatus.published, IntentStatus.failed,
     IntentStatus.needs_reauth, IntentStatus.cancelled}
)
