"""Instagram's offline checks: caption limits, media per format, carousel size, quota."""

from __future__ import annotations

from datetime import datetime

from postplan.channels.base import Finding, PublishRequest
from postplan.channels.text import as_int, count_hashtags, count_mentions
from postplan.channels.validation import check_quota, offline_findings
from postplan.core.vocab import EntryFormat

__all__ = ["CAPTION_MAX", "DAILY_PUBLISH_CAP", "validate_request"]

CAPTION_MAX = 2200
HASHTAGS_MAX = 30
MENTIONS_MAX = 20
ALT_TEXT_MAX = 1000
COMMENT_MAX = 2200
CAROUSEL_MIN, CAROUSEL_MAX = 2, 10
#: `content_publishing_limit` reports 50 today; preflight reads the live value.
DAILY_PUBLISH_CAP = 50


def _text(req: PublishRequest) -> list[Finding]:
    if req.format is EntryFormat.story:
        return []
    out = []
    if len(req.caption) > CAPTION_MAX:
        out.append(Finding(code="caption_too_long", field="caption",
                           message=f"Instagram captions are at most {CAPTION_MAX} characters; "
                           f"this one has {len(req.caption)}."))
    tags = max(count_hashtags(req.caption), len(req.hashtags))
    if tags > HASHTAGS_MAX:
        out.append(Finding(code="too_many_hashtags", field="hashtags",
                           message=f"Instagram allows {HASHTAGS_MAX} hashtags; this has {tags}."))
    mentions = count_mentions(req.caption)
    if mentions > MENTIONS_MAX:
        out.append(Finding(code="too_many_mentions", field="caption",
                           message=f"Instagram allows {MENTIONS_MAX} @-mentions; this has "
                           f"{mentions}."))
    return out


def _media(req: PublishRequest) -> list[Finding]:
    fmt = req.format
    if not req.media:
        return [Finding(code="media_missing", field="media",
                        message=f"An Instagram {fmt.value} needs media attached.")]
    out = []
    if fmt is EntryFormat.carousel:
        if not CAROUSEL_MIN <= len(req.media) <= CAROUSEL_MAX:
            out.append(Finding(code="media_count_invalid", field="media",
                               message=f"A carousel takes {CAROUSEL_MIN} to {CAROUSEL_MAX} items; "
                               f"this has {len(req.media)}."))
        return out
    if len(req.media) != 1:
        out.append(Finding(code="media_count_invalid", field="media",
                           message=f"An Instagram {fmt.value} takes exactly one media item."))
    wanted = {EntryFormat.image: "image", EntryFormat.reel: "video"}.get(fmt)
    if wanted and any(m.type != wanted for m in req.media):
        out.append(Finding(code="media_type_invalid", field="media",
                           message=f"An Instagram {fmt.value} needs a {wanted}."))
    return out


def _options(req: PublishRequest) -> list[Finding]:
    out = []
    alt = req.options.get("alt_text")
    if alt is not None:
        if req.format not in (EntryFormat.image, EntryFormat.carousel):
            out.append(Finding(code="option_invalid", field="options.alt_text",
                               message="alt_text applies to images only."))
        elif len(str(alt)) > ALT_TEXT_MAX:
            out.append(Finding(code="option_invalid", field="options.alt_text",
                               message=f"alt_text is at most {ALT_TEXT_MAX} characters."))
    offset = req.options.get("thumb_offset")
    if offset is not None and (as_int(offset) is None or (as_int(offset) or 0) < 0):
        out.append(Finding(code="option_invalid", field="options.thumb_offset",
                           message="thumb_offset is a whole number of milliseconds."))
    if req.format is EntryFormat.story:
        for name in ("collaborators", "location_id", "first_comment"):
            if req.options.get(name):
                out.append(Finding(code="option_invalid", field=f"options.{name}",
                                   message=f"{name} does not apply to Instagram stories."))
    comment = req.options.get("first_comment")
    if comment is not None and len(str(comment)) > COMMENT_MAX:
        out.append(Finding(code="first_comment_too_long", field="options.first_comment",
                           message=f"An Instagram comment is at most {COMMENT_MAX} characters."))
    if req.format is not EntryFormat.reel:
        for name in ("share_to_feed", "cover_url", "cover_media_id", "thumb_offset"):
            if name in req.options:
                out.append(Finding(code="option_invalid", field=f"options.{name}",
                                   message=f"{name} applies to reels only."))
    return out


def validate_request(
    req: PublishRequest, *, now: datetime, posts_in_last_24h: int
) -> list[Finding]:
    """Every offline finding for an Instagram request."""
    return offline_findings(
        req, now, media=_media, text=_text, options=_options,
        quota=check_quota("Instagram", posts_in_last_24h, DAILY_PUBLISH_CAP),
    )
