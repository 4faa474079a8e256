"""The container parameters Instagram's `POST /{ig-user-id}/media` takes, per format. Pure."""

from __future__ import annotations

import json
from typing import Any

from postplan.channels.base import MediaRef, PublishRequest
from postplan.channels.text import as_int
from postplan.core.vocab import EntryFormat

__all__ = ["carousel_parent", "child_params", "single_params"]


def _bool(value: Any) -> str:
    return "true" if value else "false"


def _common(req: PublishRequest, *, tags: bool = True) -> dict[str, Any]:
    """Parameters every feed container (image, reel, carousel parent) may carry: AI label,
    collaborators, location, and user tags (`tags=False` for a carousel parent: tags belong
    on its items). Lists travel JSON-encoded, as the Graph API takes them in a form."""
    out: dict[str, Any] = {}
    if req.options.get("is_ai_generated") is not None:
        out["is_ai_generated"] = _bool(req.options["is_ai_generated"])
    if req.options.get("collaborators"):
        out["collaborators"] = json.dumps(list(req.options["collaborators"]))
    if req.options.get("location_id"):
        out["location_id"] = str(req.options["location_id"])
    if tags and req.options.get("user_tags"):
        out["user_tags"] = json.dumps([
            {k: v for k, v in tag.items() if v is not None}
            for tag in req.options["user_tags"] if isinstance(tag, dict)])
    return out


def single_params(req: PublishRequest) -> dict[str, Any]:
    """Parameters of the one container of an image, reel or story."""
    media = req.media[0] if req.media else MediaRef(url="", type="image")
    if req.format is EntryFormat.reel:
        params: dict[str, Any] = {
            "media_type": "REELS",
            "video_url": media.url,
            "caption": req.caption,
            "share_to_feed": _bool(req.options.get("share_to_feed", True)),
        }
        if req.options.get("cover_url"):
            params["cover_url"] = str(req.options["cover_url"])
        offset = as_int(req.options.get("thumb_offset"))
        if offset is not None:
            params["thumb_offset"] = str(offset)
        return {**params, **_common(req)}
    if req.format is EntryFormat.story:
        # Stories take no caption; each story is its own publish.
        key = "video_url" if media.type == "video" else "image_url"
        return {"media_type": "STORIES", key: media.url}
    params = {"image_url": media.url, "caption": req.caption}
    if req.options.get("alt_text"):
        params["alt_text"] = str(req.options["alt_text"])
    return {**params, **_common(req)}


def child_params(media: MediaRef) -> dict[str, Any]:
    """A carousel item: images by `image_url`, videos as `VIDEO` (never REELS)."""
    if media.type == "video":
        return {"media_type": "VIDEO", "video_url": media.url, "is_carousel_item": "true"}
    return {"image_url": media.url, "is_carousel_item": "true"}


def carousel_parent(req: PublishRequest, child_ids: list[str]) -> dict[str, Any]:
    """The CAROUSEL container; caption goes here, never on the children."""
    return {"media_type": "CAROUSEL", "children": ",".join(child_ids), "caption": req.caption,
            **_common(req, tags=False)}
