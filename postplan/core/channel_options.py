"""An entry's `channelOptions` (docs: DESIGN §9): the posting choices a person makes per channel.

Declared once for every boundary that carries them: an edit (PATCH), the saved entry, a JSON
export and its import. Only shapes and per-field limits live here; the rules that need the entry
(options of the wrong channel) or the platform (the creator's offered privacy levels) are
checked where that is known.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StringConstraints

from postplan.core.schemas import InputSchema
from postplan.core.validators import NoNul

__all__ = [
    "FIRST_COMMENT_MAX",
    "PRIVACY_LEVELS",
    "ChannelOptions",
    "InstagramOptions",
    "PrivacyLevel",
    "TikTokOptions",
    "UserTag",
    "options_json",
]

#: TikTok's privacy levels (creator_info offers a subset per account).
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR",
                  "SELF_ONLY")
PrivacyLevel = Literal["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR",
                       "SELF_ONLY"]
#: An Instagram comment is at most 2,200 characters (like a caption).
FIRST_COMMENT_MAX = 2200
ALT_TEXT_MAX = 1000
#: Instagram takes at most 3 collaborators and 20 user tags per post.
COLLABORATORS_MAX = 3
USER_TAGS_MAX = 20

#: An Instagram username: letters, digits, `.` and `_`, at most 30 characters.
Username = Annotated[str, StringConstraints(min_length=1, max_length=30,
                                            pattern=r"^[A-Za-z0-9._]+$")]


class TikTokOptions(InputSchema):
    """`channelOptions.tiktok`. Nothing has a default a person did not choose: `privacyLevel`
    unset means "not chosen" (a live direct post then refuses), switches unset mean off."""

    privacy_level: PrivacyLevel | None = None
    disable_comment: StrictBool | None = None
    disable_duet: StrictBool | None = None
    disable_stitch: StrictBool | None = None
    brand_content_toggle: StrictBool | None = None
    brand_organic_toggle: StrictBool | None = None
    is_aigc: StrictBool | None = None
    mode: Literal["direct", "draft"] | None = None
    music_usage_confirmed: StrictBool | None = None


class UserTag(InputSchema):
    """A tagged account; `x`/`y` (0–1) place it on an image, ignored for videos."""

    username: Username
    x: float | None = Field(None, ge=0, le=1)
    y: float | None = Field(None, ge=0, le=1)


class InstagramOptions(InputSchema):
    """`channelOptions.instagram`. The first comment is posted after the post, as its own step."""

    first_comment: Annotated[str, StringConstraints(max_length=FIRST_COMMENT_MAX),
                             NoNul()] | None = None
    alt_text: Annotated[str, StringConstraints(max_length=ALT_TEXT_MAX), NoNul()] | None = None
    cover_media_id: uuid.UUID | None = None
    thumb_offset_ms: int | None = Field(None, ge=0, le=3_600_000)
    collaborators: list[Username] | None = Field(None, max_length=COLLABORATORS_MAX)
    user_tags: list[UserTag] | None = Field(None, max_length=USER_TAGS_MAX)
    location_id: Annotated[str, StringConstraints(max_length=40, pattern=r"^[0-9]+$")] | None = None
    share_to_feed: StrictBool | None = None


class ChannelOptions(InputSchema):
    """`channelOptions`: one block per channel; an entry carries only its own channel's."""

    tiktok: TikTokOptions | None = None
    instagram: InstagramOptions | None = None


def options_json(value: ChannelOptions | dict[str, Any] | None) -> dict[str, Any]:
    """The stored (and exported) form: camelCase, unset fields left out, empty blocks dropped."""
    if value is None:
        return {}
    model = value if isinstance(value, ChannelOptions) else ChannelOptions.model_validate(value)
    out = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {k: v for k, v in out.items() if v}
