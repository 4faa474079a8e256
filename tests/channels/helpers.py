"""Builders shared by the channel tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx

from postplan.channels import (
    AdapterResult,
    ChannelAdapter,
    Credentials,
    MediaRef,
    PublishRequest,
    get_adapter,
)
from postplan.core.vocab import Channel, EntryFormat
from tests.fakes.channels_server import FakeAccount, FakeChannelsServer

FUTURE = datetime(2030, 1, 1, 12, tzinfo=UTC)
NOW = datetime(2029, 12, 31, 12, tzinfo=UTC)


def adapter(channel: str, http: httpx.AsyncClient, fake: FakeChannelsServer, **kw: Any
            ) -> ChannelAdapter:
    """An adapter pointed at the fake, with test-sized timings."""
    kw.setdefault("container_poll_interval", 0.01)
    kw.setdefault("container_poll_max_interval", 0.05)
    kw.setdefault("timeout", 5.0)
    return get_adapter(channel, http=http, api_base=fake.url, api_version="v25.0", **kw)


def creds(account: FakeAccount) -> Credentials:
    return Credentials(access_token=account.token, account_id=account.account_id)


def media(fake: FakeChannelsServer | None, name: str, kind: Literal["image", "video"] = "video",
          size: int = 4096
          ) -> MediaRef:
    """A media URL: on the fake's /media host (downloadable) or a public-looking CDN URL."""
    if fake is None:
        return MediaRef(url=f"https://cdn.example.com/{name}", type=kind)
    return MediaRef(url=f"{fake.url}/media/{name}?size={size}", type=kind)


def request(
    channel: str,
    fmt: str,
    account: FakeAccount | None = None,
    *,
    caption: str = "A caption #postplan",
    media_refs: list[MediaRef] | None = None,
    **kw: Any,
) -> PublishRequest:
    """A request that passes validation unless a test changes it."""
    ch, f = Channel(channel), EntryFormat(fmt)
    if media_refs is None:
        if f in (EntryFormat.video, EntryFormat.reel):
            media_refs = [media(None, "clip.mp4")]
        elif f is EntryFormat.carousel:
            media_refs = [media(None, "a.jpg", "image"), media(None, "b.mp4", "video")]
        else:
            media_refs = [media(None, "pic.jpg", "image")]
    if ch is Channel.tiktok:
        kw.setdefault("privacy_level", "PUBLIC_TO_EVERYONE")
    values: dict[str, Any] = {
        "intent_id": kw.pop("intent_id", "intent-1"),
        "channel": ch,
        "format": f,
        "caption": caption,
        "hashtags": kw.pop("hashtags", ["postplan"]),
        "media": media_refs,
        "scheduled_at": kw.pop("scheduled_at", FUTURE),
        "account_id": account.account_id if account else "acct-1",
    }
    values.update(kw)
    if ch is Channel.tiktok and "music_usage_confirmed" not in values.get("options", {}):
        # The person agreed to TikTok's Music Usage Confirmation (a direct post needs it).
        values["options"] = {**values.get("options", {}), "music_usage_confirmed": True}
    return PublishRequest(**values)


async def drive(
    a: ChannelAdapter, c: Credentials, req: PublishRequest, *, max_polls: int = 20
) -> AdapterResult:
    """The domain's happy path: preflight, prepare, persist, publish once, poll to the end."""
    await a.preflight(c, req)
    handle = await a.prepare(c, req)
    seen: list[str] = []

    async def keep(h: str) -> None:
        seen.append(h)

    result = await a.publish(c, req, handle, on_handle=keep)
    for _ in range(max_polls):
        if result.state == "published":
            return result
        assert result.handle
        result = await a.poll(c, req, result.handle)
    raise AssertionError(f"not published after {max_polls} polls: {result}")


def past() -> datetime:
    return NOW - timedelta(days=1)
