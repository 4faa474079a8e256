"""The exact JSON bodies TikTok's init endpoints take, built from a PublishRequest. Pure."""

from __future__ import annotations

from typing import Any

from postplan.channels.base import PublishRequest
from postplan.channels.text import as_int
from postplan.channels.tiktok.upload import ChunkPlan
from postplan.core.vocab import EntryFormat

__all__ = [
    "DIRECT_POST",
    "FILE_UPLOAD",
    "MEDIA_UPLOAD",
    "PULL_FROM_URL",
    "init_request",
    "post_mode",
    "source",
]

DIRECT_POST = "DIRECT_POST"
MEDIA_UPLOAD = "MEDIA_UPLOAD"
PULL_FROM_URL = "PULL_FROM_URL"
FILE_UPLOAD = "FILE_UPLOAD"


def post_mode(req: PublishRequest) -> str:
    """DIRECT_POST (default) or MEDIA_UPLOAD (a draft in the creator's TikTok inbox)."""
    return str(req.options.get("post_mode") or DIRECT_POST).upper()


def source(req: PublishRequest) -> str:
    """How TikTok gets a video: it pulls the URL (default) or we upload the bytes in chunks.
    Photos are always pulled; a video postplan stores itself is always uploaded (FILE_UPLOAD
    needs no verified domain, and the bytes come from storage, not from a URL)."""
    if req.format is EntryFormat.photo:
        return PULL_FROM_URL
    if req.media and req.media[0].media_id is not None:
        return FILE_UPLOAD
    return str(req.options.get("source") or PULL_FROM_URL).upper()


def _flag(req: PublishRequest, name: str) -> bool:
    return bool(req.options.get(name, False))


def _video_post_info(req: PublishRequest) -> dict[str, Any]:
    info: dict[str, Any] = {
        "title": req.caption,
        "privacy_level": req.privacy_level,
        "disable_duet": _flag(req, "disable_duet"),
        "disable_stitch": _flag(req, "disable_stitch"),
        "disable_comment": _flag(req, "disable_comment"),
        "brand_content_toggle": _flag(req, "brand_content_toggle"),
        "brand_organic_toggle": _flag(req, "brand_organic_toggle"),
        "is_aigc": _flag(req, "is_aigc"),
    }
    cover = as_int(req.options.get("video_cover_timestamp_ms"))
    if cover is not None:
        info["video_cover_timestamp_ms"] = cover
    return info


def _video_source_info(req: PublishRequest, plan: ChunkPlan | None) -> dict[str, Any]:
    if source(req) == FILE_UPLOAD:
        if plan is None:
            # Size is known only once the bytes are downloaded; dry-run shows the placeholders.
            return {"source": FILE_UPLOAD, "video_size": "{video_size}",
                    "chunk_size": "{chunk_size}", "total_chunk_count": "{total_chunk_count}"}
        return plan.source_info()
    return {"source": PULL_FROM_URL, "video_url": req.media[0].url if req.media else None}


def _photo_body(req: PublishRequest) -> dict[str, Any]:
    mode = post_mode(req)
    info: dict[str, Any] = {"description": req.caption}
    if req.options.get("title"):
        info["title"] = str(req.options["title"])
    info["disable_comment"] = _flag(req, "disable_comment")
    if mode == DIRECT_POST:
        info["privacy_level"] = req.privacy_level
        info["auto_add_music"] = _flag(req, "auto_add_music")
        info["brand_content_toggle"] = _flag(req, "brand_content_toggle")
        info["brand_organic_toggle"] = _flag(req, "brand_organic_toggle")
    return {
        "media_type": "PHOTO",
        "post_mode": mode,
        "post_info": info,
        "source_info": {
            "source": PULL_FROM_URL,
            "photo_images": [m.url for m in req.media],
            "photo_cover_index": as_int(req.options.get("photo_cover_index"), 0),
        },
    }


def init_request(req: PublishRequest, plan: ChunkPlan | None = None) -> tuple[str, dict[str, Any]]:
    """(endpoint name, JSON body) of the init call for this request."""
    if req.format is EntryFormat.photo:
        return "content_init", _photo_body(req)
    if post_mode(req) == MEDIA_UPLOAD:
        # The inbox endpoint documents only source_info; the user writes the caption in the app.
        return "inbox_init", {"source_info": _video_source_info(req, plan)}
    return "video_init", {"post_info": _video_post_info(req),
                          "source_info": _video_source_info(req, plan)}
