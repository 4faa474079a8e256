"""TikTok's offline checks (no network): text in UTF-16 units, media per format, privacy, caps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from postplan.channels.base import Finding, PublishRequest
from postplan.channels.text import as_int
from postplan.channels.tiktok.payloads import (
    DIRECT_POST,
    FILE_UPLOAD,
    MEDIA_UPLOAD,
    PULL_FROM_URL,
    post_mode,
)
from postplan.channels.validation import check_quota, offline_findings
from postplan.core.text import utf16_len
from postplan.core.vocab import EntryFormat

__all__ = [
    "DAILY_POST_CAP",
    "PENDING_SHARE_CAP",
    "PRIVACY_LEVELS",
    "creator_findings",
    "validate_request",
]

PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
VIDEO_TITLE_MAX = 2200
PHOTO_TITLE_MAX = 90
PHOTO_DESCRIPTION_MAX = 4000
MAX_PHOTOS = 35
#: "Typically around 15" Direct Posts per creator per 24 h, shared with other apps: advisory.
DAILY_POST_CAP = 15
#: At most 5 unposted inbox drafts per 24 h.
PENDING_SHARE_CAP = 5


def _media(req: PublishRequest) -> list[Finding]:
    if not req.media:
        return [Finding(code="media_missing", field="media",
                        message=f"A TikTok {req.format.value} post needs media attached.")]
    if req.format is EntryFormat.video:
        out = []
        if len(req.media) != 1:
            out.append(Finding(code="media_count_invalid", field="media",
                               message="A TikTok video post takes exactly one video."))
        if any(m.type != "video" for m in req.media):
            out.append(Finding(code="media_type_invalid", field="media",
                               message="A TikTok video post needs a video, not an image."))
        return out
    out = []
    if len(req.media) > MAX_PHOTOS:
        out.append(Finding(code="media_count_invalid", field="media",
                           message=f"A TikTok photo post takes 1 to {MAX_PHOTOS} images."))
    if any(m.type != "image" for m in req.media):
        out.append(Finding(code="media_type_invalid", field="media",
                           message="A TikTok photo post takes images only."))
    return out


def _text(req: PublishRequest) -> list[Finding]:
    if req.format is EntryFormat.video:
        if utf16_len(req.caption) > VIDEO_TITLE_MAX:
            return [Finding(code="caption_too_long", field="caption",
                            message=f"TikTok video captions are at most {VIDEO_TITLE_MAX} "
                            f"UTF-16 units; this one has {utf16_len(req.caption)}.")]
        return []
    out = []
    if utf16_len(req.caption) > PHOTO_DESCRIPTION_MAX:
        out.append(Finding(code="caption_too_long", field="caption",
                           message=f"TikTok photo descriptions are at most "
                           f"{PHOTO_DESCRIPTION_MAX} UTF-16 units."))
    title = str(req.options.get("title") or "")
    if utf16_len(title) > PHOTO_TITLE_MAX:
        out.append(Finding(code="caption_too_long", field="options.title",
                           message=f"TikTok photo titles are at most {PHOTO_TITLE_MAX} "
                           "UTF-16 units."))
    return out


def _options(req: PublishRequest) -> list[Finding]:
    out = []
    mode = post_mode(req)
    if mode not in (DIRECT_POST, MEDIA_UPLOAD):
        out.append(Finding(code="option_invalid", field="options.post_mode",
                           message="post_mode must be DIRECT_POST or MEDIA_UPLOAD."))
    src = str(req.options.get("source") or PULL_FROM_URL).upper()
    if src not in (PULL_FROM_URL, FILE_UPLOAD):
        out.append(Finding(code="option_invalid", field="options.source",
                           message="source must be PULL_FROM_URL or FILE_UPLOAD."))
    elif req.format is EntryFormat.photo and src == FILE_UPLOAD:
        out.append(Finding(code="option_invalid", field="options.source",
                           message="TikTok photos can only be pulled from URLs."))
    stamp = req.options.get("video_cover_timestamp_ms")
    if stamp is not None and as_int(stamp) is None:
        out.append(Finding(code="option_invalid", field="options.video_cover_timestamp_ms",
                           message="video_cover_timestamp_ms is a whole number of "
                           "milliseconds."))
    if req.format is EntryFormat.photo:
        for name in ("disable_duet", "disable_stitch", "is_aigc"):
            if name in req.options:
                out.append(Finding(code="option_invalid", field=f"options.{name}",
                                   message=f"{name} does not apply to TikTok photo posts."))
        cover = req.options.get("photo_cover_index", 0)
        if not isinstance(cover, int) or not 0 <= cover < max(1, len(req.media)):
            out.append(Finding(code="option_invalid", field="options.photo_cover_index",
                               message="photo_cover_index must point at one of the images."))
    if mode == DIRECT_POST:
        out += _choices(req)
    return out


def _choices(req: PublishRequest) -> list[Finding]:
    """TikTok's rules for a direct post's choices: a privacy level the person chose (no
    default), branded content never private, the music usage confirmation given."""
    out = []
    if not req.privacy_level:
        out.append(Finding(code="tiktok_privacy_required", field="channelOptions.tiktok."
                           "privacyLevel", message="TikTok needs a privacy level chosen by the "
                           "person; there is no default."))
    elif req.privacy_level not in PRIVACY_LEVELS:
        out.append(Finding(code="privacy_level_invalid", field="channelOptions.tiktok."
                           "privacyLevel", message="privacy_level must be one of "
                           + ", ".join(PRIVACY_LEVELS) + "."))
    elif req.privacy_level == "SELF_ONLY" and req.options.get("brand_content_toggle"):
        out.append(Finding(code="tiktok_branded_content_private",
                           field="channelOptions.tiktok.brandContentToggle",
                           message="Branded content cannot be private (SELF_ONLY)."))
    if req.options.get("music_usage_confirmed") is not True:
        out.append(Finding(code="tiktok_music_not_confirmed",
                           field="channelOptions.tiktok.musicUsageConfirmed",
                           message="A direct TikTok post needs the person's agreement to "
                           "TikTok's Music Usage Confirmation."))
    return out


def creator_findings(req: PublishRequest, info: dict[str, Any]) -> list[Finding]:
    """What the creator's own settings (creator_info) refuse: a privacy level not on offer, an
    interaction the creator switched off turned on, a video longer than the account may post."""
    if post_mode(req) != DIRECT_POST:
        return []
    out = []
    offered = [str(o) for o in info.get("privacy_level_options") or []]
    if req.privacy_level and req.privacy_level not in offered:
        out.append(Finding(code="tiktok_privacy_not_offered",
                           field="channelOptions.tiktok.privacyLevel",
                           message=f"This TikTok account offers {', '.join(offered) or 'none'}, "
                           f"not {req.privacy_level}."))
    names = ("comment",) if req.format is EntryFormat.photo else ("comment", "duet", "stitch")
    for name in names:
        if info.get(f"{name}_disabled") and req.options.get(f"disable_{name}") is False:
            out.append(Finding(code="tiktok_interaction_disabled",
                               field=f"channelOptions.tiktok.disable{name.title()}",
                               message=f"The creator turned {name}s off on TikTok; they cannot "
                               "be turned on for this post."))
    duration = req.options.get("duration_sec")
    if duration is None and req.media:
        duration = req.media[0].duration_seconds  # a stored video's inspected length
    limit = info.get("max_video_post_duration_sec")
    if isinstance(duration, int | float) and isinstance(limit, int) and duration > limit:
        out.append(Finding(code="tiktok_video_too_long", field="media",
                           message=f"This account can post videos up to {limit} s; this one "
                           f"is {duration} s."))
    return out


def validate_request(
    req: PublishRequest, *, now: datetime, posts_in_last_24h: int
) -> list[Finding]:
    """Every offline finding for a TikTok request."""
    if post_mode(req) == MEDIA_UPLOAD:
        quota = check_quota("TikTok inbox drafts", posts_in_last_24h, PENDING_SHARE_CAP)
    else:
        quota = check_quota("TikTok", posts_in_last_24h, DAILY_POST_CAP)
    return offline_findings(req, now, media=_media, text=_text, options=_options, quota=quota)
