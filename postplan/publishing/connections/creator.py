"""`GET /v1/channels/tiktok/creator-info`: who is posting and what TikTok lets them choose.

TikTok's content posting guidelines require the app to show the creator's nickname, offer only
the privacy levels creator_info returns (with no default), and grey out the interactions the
creator switched off; the page reads this before a live post. Fetched fresh on every call (the
avatar URL expires after 2 hours); the worker asks again itself before each send (preflight).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from postplan.channels.base import AuthError, ChannelError, RetryLater
from postplan.core.auth import CurrentUser
from postplan.core.deps import AppSettings, Engine
from postplan.core.errors import ServiceUnavailable
from postplan.core.openapi import problem_responses
from postplan.core.schemas import Schema
from postplan.publishing.connections.credentials import CredentialStore
from postplan.publishing.connections.store import auth_problem
from postplan.publishing.errors import ChannelUnavailable
from postplan.publishing.gateway import Gateway

router = APIRouter(tags=["publishing"])


class CreatorInfoOut(Schema):
    nickname: str
    username: str
    avatar_url: str | None
    privacy_level_options: list[str]
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    max_video_post_duration_sec: int | None


def creator_out(data: dict[str, Any]) -> CreatorInfoOut:
    """TikTok's `creator_info` data in the API's shape."""
    limit = data.get("max_video_post_duration_sec")
    return CreatorInfoOut(
        nickname=str(data.get("creator_nickname") or ""),
        username=str(data.get("creator_username") or ""),
        avatar_url=str(data["creator_avatar_url"]) if data.get("creator_avatar_url") else None,
        privacy_level_options=[str(o) for o in data.get("privacy_level_options") or []],
        comment_disabled=bool(data.get("comment_disabled")),
        duet_disabled=bool(data.get("duet_disabled")),
        stitch_disabled=bool(data.get("stitch_disabled")),
        max_video_post_duration_sec=limit if isinstance(limit, int) else None)


@router.get("/channels/tiktok/creator-info", response_model=CreatorInfoOut,
            responses=problem_responses(422, 502, 503))
async def creator_info(user: CurrentUser, engine: Engine, settings: AppSettings,
                       gateway: Gateway) -> CreatorInfoOut:
    """The connected TikTok creator: nickname, avatar, privacy levels on offer, whether
    comments/duet/stitch are off, the longest video they may post. 422 when TikTok is not
    connected; 502 when TikTok refuses (the creator cannot post now: its message says why)."""
    store = CredentialStore(engine, settings)
    oauth = gateway.oauth("tiktok") if settings.adapter_configured("tiktok") else None
    result = await store.get(user.id, "tiktok", oauth)
    if result.creds is None:
        error = result.error or {"code": "channel_auth_invalid",
                                 "message": "the TikTok token could not be refreshed"}
        code = str(error.get("code"))
        if code not in ("channel_auth_missing", "channel_auth_invalid", "channel_config_missing"):
            code = "channel_auth_invalid"
        raise auth_problem("tiktok", code, str(error.get("message")))
    fetch = getattr(gateway.adapter("tiktok"), "creator_info", None)
    if fetch is None:  # a channel gateway without TikTok's read (a stand-in)
        raise ChannelUnavailable("TikTok's creator info is not available here")
    try:
        data = await fetch(result.creds)
    except AuthError as exc:
        raise auth_problem("tiktok", "channel_auth_invalid", exc.message) from None
    except RetryLater as exc:
        raise ServiceUnavailable(exc.message, code="channel_rate_limited",
                                 headers={"Retry-After": str(max(1, round(exc.retry_after)))}
                                 ) from None
    except ChannelError as exc:
        raise ChannelUnavailable(exc.message, extra={"platformCode": exc.platform_code}) from None
    return creator_out(data)
