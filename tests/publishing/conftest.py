"""Publishing test helpers: seeded calendars, a scripted in-memory channel gateway, clients."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.channels.base import (
    AdapterResult,
    Credentials,
    Finding,
    HandleCallback,
    OAuthClient,
    PublishRequest,
    TokenSet,
)
from postplan.config import Settings
from postplan.core.db import create_engine, create_sessionmaker
from postplan.core.vocab import Channel
from postplan.models import Calendar, CalendarEntry
from tests.fixtures.apps import build_app, in_process_client, live_server

KEY = "test-token-encryption-key"
APP_CREDS = {
    "TOKEN_ENCRYPTION_KEY": KEY,
    "TIKTOK_CLIENT_KEY": "ck", "TIKTOK_CLIENT_SECRET": "cs",
    "INSTAGRAM_APP_ID": "ig", "INSTAGRAM_APP_SECRET": "is",
}


def future(days: int = 3, hour: int = 12) -> dt.datetime:
    base = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return base + dt.timedelta(days=days, hours=hour - base.hour)


@dataclass
class StubAdapter:
    """Offline rules like the real adapters' (a few), plus scripted online steps."""

    channel: Channel
    published: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    script: dict[str, list[Any]] = field(default_factory=dict)
    processing_polls: int = 0
    daily_cap: int = 15
    captions: list[str] = field(default_factory=list)

    def build_payload(self, req: PublishRequest) -> dict[str, Any]:
        return {"channel": req.channel.value, "format": req.format.value,
                "caption": req.caption, "media": [m.url for m in req.media],
                "privacy": req.privacy_level}

    def validate(self, req: PublishRequest, *, now: dt.datetime,
                 posts_in_last_24h: int) -> list[Finding]:
        out: list[Finding] = []
        if len(req.caption) > 2200:
            out.append(Finding(code="caption_too_long", message="caption too long",
                               field="caption"))
        if not req.media:
            out.append(Finding(code="media_missing", message="attach media", field="media"))
        if req.scheduled_at < now - dt.timedelta(minutes=1):
            out.append(Finding(code="scheduled_in_past", message="in the past",
                               field="scheduledAt"))
        if posts_in_last_24h >= self.daily_cap:
            out.append(Finding(code="daily_quota", message="daily cap"))
        return out

    async def creator_info(self, creds: Credentials) -> dict[str, Any]:
        """TikTok's creator_info as a creator who turned comments off would get it."""
        self.calls.append("creator_info")
        return {"creator_nickname": "Stub Creator", "creator_username": "stub.creator",
                "creator_avatar_url": "https://p16.example/stub.jpeg",
                "privacy_level_options": ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS",
                                          "FOLLOWER_OF_CREATOR", "SELF_ONLY"],
                "comment_disabled": True, "duet_disabled": False, "stitch_disabled": False,
                "max_video_post_duration_sec": 600}

    def _next(self, step: str) -> Any:
        queue = self.script.get(step)
        if queue:
            item = queue.pop(0)
            if isinstance(item, BaseException):
                raise item
            return item
        return None

    async def preflight(self, creds: Credentials, req: PublishRequest) -> None:
        self.calls.append("preflight")
        self._next("preflight")

    async def prepare(self, creds: Credentials, req: PublishRequest) -> str | None:
        self.calls.append("prepare")
        self._next("prepare")
        return f"container-{req.intent_id}" if self.channel is Channel.instagram else None

    async def publish(self, creds: Credentials, req: PublishRequest, handle: str | None, *,
                      on_handle: HandleCallback | None = None) -> AdapterResult:
        self.calls.append("publish")
        self._next("publish")
        self.published.append(req.intent_id)
        self.captions.append(req.caption)
        if self.channel is Channel.tiktok:
            pid = f"pub-{req.intent_id}"
            if on_handle:
                await on_handle(pid)
            if self.processing_polls:
                return AdapterResult(state="processing", handle=pid)
            return AdapterResult(state="published", handle=pid, platform_post_id="p" + pid)
        return AdapterResult(state="published", handle=handle,
                             platform_post_id="m" + (handle or ""))

    async def poll(self, creds: Credentials, req: PublishRequest, handle: str) -> AdapterResult:
        self.calls.append("poll")
        self._next("poll")
        if self.calls.count("poll") < self.processing_polls:
            return AdapterResult(state="processing", handle=handle)
        return AdapterResult(state="published", handle=handle, platform_post_id="x" + handle)

    async def reconcile(self, creds: Credentials, req: PublishRequest,
                        handle: str | None) -> AdapterResult | None:
        self.calls.append("reconcile")
        value = self._next("reconcile")
        if value is not None:
            return value  # type: ignore[no-any-return]
        if handle is None:
            return None
        if req.intent_id in self.published:
            return AdapterResult(state="published", handle=handle, platform_post_id="r")
        return AdapterResult(state="not_published", handle=handle)


@dataclass
class StubOAuth:
    channel: Channel
    refreshed: list[str] = field(default_factory=list)
    fail: BaseException | None = None

    def authorize_url(self, state: str, redirect_uri: str,
                      code_challenge: str | None = None) -> str:
        return f"https://auth.example/{self.channel.value}?state={state}&cc={code_challenge}"

    async def exchange_code(self, code: str, redirect_uri: str,
                            code_verifier: str | None = None) -> TokenSet:
        return TokenSet(access_token=f"act.{code}.access", refresh_token=f"rft.{code}",
                        expires_in=7200, account_id=f"acct-{code}")

    async def refresh(self, refresh_token: str) -> TokenSet:
        self.refreshed.append(refresh_token)
        if self.fail is not None:
            raise self.fail
        n = len(self.refreshed)
        return TokenSet(access_token=f"act.refreshed.{n}", refresh_token=f"rft.rotated.{n}",
                        expires_in=7200, account_id="acct")


class StubGateway:
    def __init__(self) -> None:
        self.adapters = {c.value: StubAdapter(c) for c in Channel}
        self.oauths = {c.value: StubOAuth(c) for c in Channel}

    def adapter(self, channel: str) -> StubAdapter:
        return self.adapters[channel]

    def oauth(self, channel: str) -> OAuthClient:
        return self.oauths[channel]


@pytest.fixture
def gateway() -> StubGateway:
    return StubGateway()


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    yield eng
    await eng.dispose()


async def seed_calendar(engine: AsyncEngine, user_id: str = "local", *,
                        entries: list[dict[str, Any]] | None = None,
                        count: int = 2) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A calendar with entries (default: one TikTok video and one Instagram reel)."""
    maker = create_sessionmaker(engine)
    cal_id = uuid.uuid4()
    if entries is None:
        entries = [
            {"channel": "tiktok" if i % 2 == 0 else "instagram",
             "format": "video" if i % 2 == 0 else "reel"} for i in range(count)
        ]
    ids: list[uuid.UUID] = []
    async with maker() as session:
        session.add(Calendar(id=cal_id, user_id=user_id, name="Test", brief={"brand": "b"},
                             timezone="UTC"))
        await session.flush()
        for i, spec in enumerate(entries):
            entry_id = uuid.uuid4()
            ids.append(entry_id)
            values: dict[str, Any] = {
                "caption": f"Post {i}", "hashtags": ["tag"], "seq": i,
                "scheduled_at": future(days=1 + i // 10, hour=(i % 10) + 8),
                "timezone": "UTC",
                "media": [{"url": f"https://cdn.example.com/{i}.mp4", "type": "video"}],
            }
            if spec.get("channel") == "tiktok":
                # The choices TikTok needs a person to make before a direct post.
                values["channel_options"] = {"tiktok": {"privacyLevel": "SELF_ONLY",
                                                        "musicUsageConfirmed": True}}
            values.update(spec)
            session.add(CalendarEntry(id=entry_id, calendar_id=cal_id, user_id=user_id,
                                      **values))
        await session.commit()
    return cal_id, ids


@pytest.fixture
def publish_client(
    transport: str, gateway: StubGateway
) -> Callable[..., Any]:
    """Async context manager: an httpx client on an app wired to the stub gateway."""

    @asynccontextmanager
    async def factory(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
        app = build_app(settings)
        app.state.channel_gateway = gateway
        if transport == "inprocess":
            async with in_process_client(app) as client:
                yield client
        else:
            with live_server(app) as server:
                async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                    yield client

    return factory


async def connect(client: httpx.AsyncClient, channel: str, user: str = "local",
                  **extra: Any) -> httpx.Response:
    body = {"accessToken": f"act.{channel}.secret-token-value", "accountId": f"{user}-{channel}",
            "refreshToken": f"rft.{channel}.refresh"}
    body.update(extra)
    resp = await client.put(f"/v1/channels/{channel}/connection", json=body,
                            headers={"X-User-Id": user})
    assert resp.status_code == 200, resp.text
    return resp
