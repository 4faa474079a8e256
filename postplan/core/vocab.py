"""The small vocabulary every layer shares: channels and the formats each one takes.

Status words live with their domains (`publishing.states.IntentStatus`,
`calendars.runs.states.RunStatus`); the tables store them as plain strings, so models need none.
"""

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
