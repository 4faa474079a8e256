"""A fake TikTok + Instagram platform, served by real uvicorn on 127.0.0.1.

One FastAPI app answers TikTok's `/v2/...` paths (Content Posting API, Login Kit token endpoint,
chunk uploads on `/upload/video/`) and Instagram's `/{vNN.0}/...` Graph paths (containers,
container status, media_publish, content_publishing_limit, /me) plus its OAuth endpoints
(`/oauth/access_token`, `/access_token`, `/refresh_access_token`). It follows
`../shared/reference/channel-apis.md`: envelopes, async processing, per-token rate limits, daily
caps, token expiry and refresh rotation.

The control object (`FakeChannels`) is shared with the test thread: accounts and tokens, a virtual
clock, scripted faults per path (status, rate limit, hang, drop the connection before or after the
side effect, 5xx after the side effect) and, above all, a ledger of side effects - every post the
platform accepted - so tests can assert "posts == intents published" and find double posts.

    with start_fake_channels() as fake:
        acct = fake.control.add_account("tiktok")
        ... adapters use api_base=fake.url, creds token=acct.token ...
        assert fake.control.duplicates() == {}
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tests.fixtures.apps import free_port

__all__ = [
    "IN_MEMORY_BASE",
    "FakeAccount",
    "FakeChannels",
    "FakeChannelsConfig",
    "FakeChannelsServer",
    "FakePost",
    "Fault",
    "fake_channels",
    "fake_channels_server",
    "in_memory_channels",
    "start_fake_channels",
]

DAY = 86400.0
IG_VERSION = re.compile(r"^v\d+\.\d+$")
FAIL_MARK = re.compile(r"fail[:\-]([a-z_]+)")
HASHTAG = re.compile(r"(?<![\w#])#\w+")
MENTION = re.compile(r"(?<![\w@])@[\w.]+")
PRIVACY_PUBLIC = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
PRIVACY_PRIVATE = ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]


@dataclass
class FakeChannelsConfig:
    """Knobs; defaults follow the reference (2 h / 180 d TikTok tokens, 50 IG posts/24 h)."""

    latency: float = 0.0  # seconds added to every request
    tiktok_processing_polls: int = 1  # status/fetch answers PROCESSING_* this many times
    ig_processing_polls: int = 1  # container reads answer IN_PROGRESS this many times
    tiktok_daily_cap: int = 15
    tiktok_pending_share_cap: int = 5
    tiktok_limits: dict[str, int] = field(
        default_factory=lambda: {"creator_info": 20, "init": 6, "status": 30})
    ig_quota_total: int = 50
    ig_container_cap: int = 400
    ig_calls_per_hour: int | None = None  # None: no BUC throttling
    access_ttl: int = 7200
    refresh_ttl: int = 180 * 86400
    ig_token_ttl: int = 5183944
    ig_refresh_min_age: float = DAY
    ig_nested_code_response: bool = True
    min_chunk: int = 5 * 1024 * 1024
    max_chunk: int = 64_000_000
    max_final_chunk: int = 128_000_000
    upload_ttl: float = 3600.0
    verified_prefixes: list[str] | None = None  # None: every http(s) URL counts as verified
    tiktok_audited: bool = True  # False: only private accounts posting SELF_ONLY
    client_key: str = "fake-client-key"
    client_secret: str = "fake-client-secret"
    hang_seconds: float = 30.0


@dataclass
class Fault:
    """A scripted answer for requests whose path contains `path` (and `method`, if given).

    kind: `status` (answer `status` with `body` or the platform's envelope), `rate_limit`,
    `auth`, `invalid`, `hang` (sleep `hang_seconds`, then 504), `drop` (abort the socket before
    handling), `drop_after` (handle - side effect applied - then abort the socket without a
    response), `error_after` (handle, then answer 500).
    """

    path: str
    kind: str = "status"
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    method: str | None = None
    times: int | None = 1  # None: every matching request
    after: int = 0  # let this many matching requests through first
    hits: int = 0
    seen: int = 0


@dataclass
class FakeAccount:
    channel: str
    account_id: str
    token: str
    private: bool = False
    banned: bool = False
    comment_disabled: bool = False
    max_video_post_duration_sec: int = 600
    username: str = ""


@dataclass
class FakeToken:
    token: str
    channel: str
    account_id: str
    issued_at: float
    expires_at: float
    scopes: list[str]
    revoked: bool = False
    kind: str = "access"  # access | short (IG short-lived) | refresh


@dataclass
class FakePost:
    """One side effect: something the platform accepted and will show (or put in an inbox)."""

    channel: str
    account_id: str
    caption: str
    kind: str  # video | photo | inbox | image | reel | carousel | story
    ref: str  # publish_id or container id
    created_at: float
    post_id: str | None = None
    failed: bool = False


@dataclass
class _Publish:
    publish_id: str
    account_id: str
    kind: str
    caption: str
    privacy: str | None
    source: str
    fail_reason: str | None
    polls: int = 0
    video_size: int = 0
    chunk_size: int = 0
    chunk_count: int = 0
    received: int = 0
    upload_id: str = ""
    upload_token: str = ""
    upload_expires: float = 0.0
    post: FakePost | None = None
    cancelled: bool = False


@dataclass
class _Container:
    id: str
    account_id: str
    media_type: str
    params: dict[str, Any]
    created_at: float
    reads: int = 0
    error: str | None = None
    children: list[str] = field(default_factory=list)
    published_media: str | None = None


class FakeChannels:
    """State and controls, shared between the server thread and the test."""

    def __init__(self, config: FakeChannelsConfig | None = None) -> None:
        self.lock = threading.RLock()
        self.reset(config)

    # -- controls --------------------------------------------------------------------------------

    def reset(self, config: FakeChannelsConfig | None = None) -> None:
        """Forget everything (accounts, posts, faults) and apply `config`."""
        with self.lock:
            # Undo tests that monkeypatched a method on the shared (session) instance.
            for name in ("match_fault", "take", "token_info"):
                self.__dict__.pop(name, None)
            self.config = config or FakeChannelsConfig()
            self.offset = 0.0
            self.accounts: dict[tuple[str, str], FakeAccount] = {}
            self.tokens: dict[str, FakeToken] = {}
            self.codes: dict[str, tuple[str, str, list[str], float]] = {}
            self.faults: list[Fault] = []
            self.posts: list[FakePost] = []
            self.calls: list[tuple[str, str]] = []
            self.publishes: dict[str, _Publish] = {}
            self.containers: dict[str, _Container] = {}
            self.media: dict[str, _Container] = {}
            self.windows: dict[tuple[str, str], deque[float]] = {}
            self.ids = itertools.count(1)

    def now(self) -> float:
        """The virtual clock (wall clock plus `advance`d seconds)."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the virtual clock: expires tokens, upload URLs, containers, rate windows."""
        with self.lock:
            self.offset += seconds

    def add_account(
        self,
        channel: str,
        account_id: str | None = None,
        *,
        token: str | None = None,
        scopes: list[str] | None = None,
        ttl: float | None = None,
        **attrs: Any,
    ) -> FakeAccount:
        """Register an account with a valid access token (returned on `.token`)."""
        with self.lock:
            n = next(self.ids)
            account_id = account_id or (
                f"open-{n}" if channel == "tiktok" else str(17841400000000000 + n))
            prefix = "act." if channel == "tiktok" else "IGAA"
            token = token or f"{prefix}{secrets.token_urlsafe(24)}"
            account = FakeAccount(channel, account_id, token,
                                  username=attrs.pop("username", f"user{n}"), **attrs)
            self.accounts[(channel, account_id)] = account
            default_scopes = (["user.info.basic", "video.publish", "video.upload"]
                              if channel == "tiktok" else
                              ["instagram_business_basic", "instagram_business_content_publish"])
            life = ttl if ttl is not None else (
                self.config.access_ttl if channel == "tiktok" else self.config.ig_token_ttl)
            self.tokens[token] = FakeToken(token, channel, account_id, self.now(),
                                           self.now() + life, scopes or default_scopes)
            return account

    def expire(self, token: str) -> None:
        with self.lock:
            self.tokens[token].expires_at = self.now() - 1

    def revoke(self, token: str) -> None:
        with self.lock:
            self.tokens[token].revoked = True

    def issue_code(self, channel: str, account_id: str, scopes: list[str] | None = None) -> str:
        """An authorization code as the consent page would hand to the redirect URI."""
        with self.lock:
            if (channel, account_id) not in self.accounts:
                self.add_account(channel, account_id)
            code = secrets.token_urlsafe(12)
            self.codes[code] = (channel, account_id, scopes or [], self.now() + 600)
            return code

    def fault(self, path: str, kind: str = "status", **kw: Any) -> Fault:
        """Script a fault; returns it so a test can read `hits`."""
        with self.lock:
            f = Fault(path, kind, **kw)
            self.faults.append(f)
            return f

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    # -- side-effect ledger ------------------------------------------------------------------

    def live_posts(
        self, channel: str | None = None, account_id: str | None = None,
        *, include_inbox: bool = True,
    ) -> list[FakePost]:
        """Posts the platform accepted and did not fail."""
        with self.lock:
            return [p for p in self.posts if not p.failed
                    and (channel is None or p.channel == channel)
                    and (account_id is None or p.account_id == account_id)
                    and (include_inbox or p.kind != "inbox")]

    def count(self, caption_contains: str) -> int:
        """Live posts whose caption contains a nonce (e.g. the intent id)."""
        return sum(1 for p in self.live_posts() if caption_contains in p.caption)

    def duplicates(self) -> dict[tuple[str, str, str], int]:
        """(channel, account, caption) -> n for every caption posted more than once."""
        seen: dict[tuple[str, str, str], int] = {}
        for p in self.live_posts():
            key = (p.channel, p.account_id, p.caption)
            seen[key] = seen.get(key, 0) + 1
        return {k: n for k, n in seen.items() if n > 1}

    def calls_to(self, fragment: str) -> int:
        with self.lock:
            return sum(1 for _, path in self.calls if fragment in path)

    # -- helpers for the handlers --------------------------------------------------------------

    def new_id(self, digits: bool = False) -> str:
        n = next(self.ids)
        return str(17900000000000000 + n) if digits else str(n)

    def token_info(self, token: str | None, channel: str) -> tuple[FakeToken | None, str]:
        """(token, problem) where problem is '', 'invalid' or 'expired'."""
        if not token:
            return None, "invalid"
        info = self.tokens.get(token)
        if info is None or info.channel != channel or info.revoked or info.kind == "refresh":
            return None, "invalid"
        if info.expires_at <= self.now():
            return None, "expired"
        return info, ""

    def take(self, token: str, bucket: str, limit: int, window: float = 60.0) -> bool:
        hits = self.windows.setdefault((token, bucket), deque())
        now = self.now()
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True

    def match_fault(self, method: str, target: str) -> Fault | None:
        """The first live fault for this request. A fault path ending in `$` must end the URL
        path (`/media$` is container creation, not `/media_publish`); otherwise it is a
        substring of path and query."""
        path = target.split("?", 1)[0]
        with self.lock:
            for f in self.faults:
                hit = (path.endswith(f.path[:-1]) if f.path.endswith("$") else f.path in target)
                if not hit or (f.method is not None and f.method != method):
                    continue
                f.seen += 1
                if f.seen > f.after and (f.times is None or f.hits < f.times):
                    f.hits += 1
                    return f
            return None


# -- socket control: "accept then drop" needs the raw transport ---------------------------------

_TRANSPORTS: dict[tuple[str, int], asyncio.Transport] = {}


class _TrackingHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, remembering each connection's transport by peer address
    so a fault can abort it (no response at all, as a reset connection looks to a client)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        if peer:
            _TRANSPORTS[(peer[0], peer[1])] = transport

    def connection_lost(self, exc: Exception | None) -> None:
        peer = self.transport.get_extra_info("peername") if self.transport else None
        if peer:
            _TRANSPORTS.pop((peer[0], peer[1]), None)
        super().connection_lost(exc)


def _abort(scope: Scope) -> None:
    """Close the socket without a response. In process (httpx.ASGITransport) there is no
    socket, so raise the error httpx would have raised for a reset connection."""
    client = scope.get("client")
    transport = _TRANSPORTS.get((client[0], client[1])) if client else None
    if transport is None:
        raise httpx.ReadError("the fake dropped the connection")
    transport.abort()


class _FaultMiddleware:
    """Pure ASGI (cheaper than BaseHTTPMiddleware): records calls, adds latency, plays faults."""

    def __init__(self, app: ASGIApp, control: FakeChannels) -> None:
        self.app = app
        self.c = control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        c, path, method = self.c, scope["path"], scope["method"]
        query = scope.get("query_string", b"").decode()
        with c.lock:
            c.calls.append((method, path))
        if c.config.latency:
            await asyncio.sleep(c.config.latency)
        fault = c.match_fault(method, path + ("?" + query if query else ""))
        if fault is None:
            await self.app(scope, receive, send)
            return
        response: Response
        if fault.kind == "hang":
            await asyncio.sleep(c.config.hang_seconds)
            response = Response(status_code=504)
        elif fault.kind == "drop":
            _abort(scope)
            response = Response(status_code=599)  # dropped by the closed transport
        elif fault.kind in ("drop_after", "error_after"):

            async def discard(message: Message) -> None:
                return None

            await self.app(scope, receive, discard)  # the side effect happens here
            if fault.kind == "drop_after":
                _abort(scope)
                response = Response(status_code=599)
            else:
                response = _fault_response(Fault(path, status=500), path)
        else:
            response = _fault_response(fault, path)
        await response(scope, receive, send)


# -- response helpers ----------------------------------------------------------------------------


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _tt(
    data: dict[str, Any] | None = None, code: str = "ok", message: str = "", status: int = 200,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """TikTok's envelope: `error` on every answer, `code == ok` on success."""
    return JSONResponse(
        {"data": data if data is not None else {},
         "error": {"code": code, "message": message, "log_id": secrets.token_hex(8)}},
        status_code=status, headers=headers)


def _ig_err(
    code: int, message: str, *, subcode: int | None = None, status: int = 400,
    transient: bool = False, user_msg: str | None = None, headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The Graph API error envelope."""
    err: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code,
                           "is_transient": transient, "fbtrace_id": secrets.token_urlsafe(9)}
    if subcode is not None:
        err["error_subcode"] = subcode
        err["error_user_title"] = "Error"
        err["error_user_msg"] = user_msg or message
    return JSONResponse({"error": err}, status_code=status, headers=headers)


def _is_tiktok(path: str) -> bool:
    return path.startswith(("/v2/", "/upload/", "/media/"))


def _fault_response(fault: Fault, path: str) -> Response:
    if fault.body is not None:
        return JSONResponse(fault.body, status_code=fault.status, headers=fault.headers)
    tiktok = _is_tiktok(path)
    if fault.kind == "rate_limit":
        if tiktok:
            return _tt(code="rate_limit_exceeded", message="Too many requests.", status=429,
                       headers=fault.headers)
        usage = {"1": [{"type": "instagram", "call_count": 100, "total_cputime": 40,
                        "total_time": 40, "estimated_time_to_regain_access": 1}]}
        return _ig_err(17, "User request limit reached", transient=True,
                       headers={"X-Business-Use-Case-Usage": _dumps(usage), **fault.headers})
    if fault.kind == "auth":
        if tiktok:
            return _tt(code="access_token_invalid", status=401,
                       message="The access token is invalid or not found in the request.")
        return _ig_err(190, "Error validating access token: Session has expired.", subcode=463,
                       status=401)
    if fault.kind == "invalid":
        if tiktok:
            return _tt(code="invalid_param", status=400,
                       message="Invalid parameter: post_info.privacy_level.")
        return _ig_err(100, "Invalid parameter", subcode=2207023,
                       user_msg="The media type is not known.")
    if tiktok:
        return _tt(code="internal_error" if fault.status >= 500 else "invalid_param",
                   message="Scripted fault.", status=fault.status, headers=fault.headers)
    return _ig_err(2 if fault.status >= 500 else 100,
                   "An unexpected error has occurred. Please retry your request later.",
                   status=fault.status, transient=fault.status >= 500, headers=fault.headers)


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# -- the app -------------------------------------------------------------------------------------


def build_app(c: FakeChannels) -> FastAPI:
    """The fake's routes over the shared state `c`."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    app.add_middleware(_FaultMiddleware, control=c)

    # -- TikTok ----------------------------------------------------------------------------------

    def tt_auth(request: Request, *scopes: str) -> tuple[FakeToken | None, JSONResponse | None]:
        info, _ = c.token_info(_bearer(request), "tiktok")
        if info is None:
            return None, _tt(code="access_token_invalid", status=401,
                             message="The access token is invalid or not found in the request.")
        if scopes and not any(s in info.scopes for s in scopes):
            return None, _tt(code="scope_not_authorized", status=401,
                             message="The user did not authorize the scope required.")
        return info, None

    def tt_rate(info: FakeToken, bucket: str) -> JSONResponse | None:
        if c.take(info.token, bucket, c.config.tiktok_limits[bucket]):
            return None
        return _tt(code="rate_limit_exceeded", status=429,
                   message="The API rate limit was exceeded. Please try again later.")

    def direct_posts_24h(account_id: str) -> int:
        since = c.now() - DAY
        return sum(1 for p in c.posts if p.channel == "tiktok" and p.account_id == account_id
                   and p.kind in ("video", "photo") and p.created_at > since and not p.failed)

    def pending_shares_24h(account_id: str) -> int:
        since = c.now() - DAY
        return sum(1 for p in c.posts if p.channel == "tiktok" and p.account_id == account_id
                   and p.kind == "inbox" and p.created_at > since and not p.failed)

    @app.post("/v2/post/publish/creator_info/query/")
    async def creator_info(request: Request) -> Response:
        with c.lock:
            info, err = tt_auth(request, "video.publish")
            if info is None:
                return err  # type: ignore[return-value]
            if (limited := tt_rate(info, "creator_info")) is not None:
                return limited
            acct = c.accounts[("tiktok", info.account_id)]
            # Intentional HTTP 200 errors, as TikTok documents them.
            if acct.banned:
                return _tt(code="spam_risk_user_banned_from_posting",
                           message="The user is banned from posting.")
            if direct_posts_24h(acct.account_id) >= c.config.tiktok_daily_cap:
                return _tt(code="spam_risk_too_many_posts",
                           message="The creator has reached the daily post cap.")
            return _tt({
                "creator_avatar_url": f"https://p16.example/{acct.account_id}.jpeg",
                "creator_username": acct.username,
                "creator_nickname": acct.username.title(),
                "privacy_level_options": PRIVACY_PRIVATE if acct.private else PRIVACY_PUBLIC,
                "comment_disabled": acct.comment_disabled,
                "duet_disabled": acct.private,
                "stitch_disabled": acct.private,
                "max_video_post_duration_sec": acct.max_video_post_duration_sec,
            })

    def check_chunks(src: dict[str, Any]) -> str | None:
        cfg = c.config
        try:
            size, chunk, count = (int(src["video_size"]), int(src["chunk_size"]),
                                  int(src["total_chunk_count"]))
        except (KeyError, TypeError, ValueError):
            return "source_info needs video_size, chunk_size and total_chunk_count"
        if size <= 0 or chunk <= 0 or count <= 0:
            return "sizes must be positive"
        if size < cfg.min_chunk and (chunk != size or count != 1):
            return "a video under the minimum chunk size must be uploaded as one chunk"
        if size > cfg.max_chunk and count < 2:
            return "a video over the maximum chunk size must be uploaded in chunks"
        if count != size // chunk:
            return "total_chunk_count must be floor(video_size / chunk_size)"
        if count > 1 and not cfg.min_chunk <= chunk <= cfg.max_chunk:
            return "chunk_size is out of bounds"
        if size - (count - 1) * chunk > cfg.max_final_chunk or count > 1000:
            return "the final chunk is too large"
        return None

    async def init(request: Request, kind: str) -> Response:
        body = await _json_body(request)
        with c.lock:
            photo = kind == "photo"
            mode = str(body.get("post_mode") or "DIRECT_POST") if photo else (
                "MEDIA_UPLOAD" if kind == "inbox" else "DIRECT_POST")
            inbox = mode == "MEDIA_UPLOAD"
            info, err = tt_auth(request, "video.upload" if inbox else "video.publish")
            if info is None:
                return err  # type: ignore[return-value]
            if (limited := tt_rate(info, "init")) is not None:
                return limited
            acct = c.accounts[("tiktok", info.account_id)]
            if acct.banned:
                return _tt(code="spam_risk_user_banned_from_posting", status=403,
                           message="The user is banned from posting.")
            src = body.get("source_info") if isinstance(body.get("source_info"), dict) else {}
            post_info = body.get("post_info") if isinstance(body.get("post_info"), dict) else {}
            assert isinstance(src, dict) and isinstance(post_info, dict)
            source = str(src.get("source") or "")
            urls: list[str] = []
            if photo:
                images = src.get("photo_images")
                if (body.get("media_type") != "PHOTO" or mode not in ("DIRECT_POST",
                        "MEDIA_UPLOAD") or source != "PULL_FROM_URL"):
                    return _tt(code="invalid_param", status=400,
                               message="media_type, post_mode or source is invalid.")
                if not isinstance(images, list) or not 1 <= len(images) <= 35:
                    return _tt(code="invalid_param", status=400,
                               message="photo_images must hold 1 to 35 URLs.")
                cover = src.get("photo_cover_index")
                if not isinstance(cover, int) or not 0 <= cover < len(images):
                    return _tt(code="invalid_param", status=400,
                               message="photo_cover_index is out of range.")
                if (_utf16(str(post_info.get("title") or "")) > 90
                        or _utf16(str(post_info.get("description") or "")) > 4000):
                    return _tt(code="invalid_param", status=400,
                               message="title or description is too long.")
                urls = [str(u) for u in images]
            elif source == "PULL_FROM_URL":
                urls = [str(src.get("video_url") or "")]
            elif source == "FILE_UPLOAD":
                problem = check_chunks(src)
                if problem:
                    return _tt(code="invalid_param", status=400, message=problem)
            else:
                return _tt(code="invalid_param", status=400, message="source is invalid.")
            caption = str(post_info.get("title") or post_info.get("description") or "")
            if not photo and _utf16(caption) > 2200:
                return _tt(code="invalid_param", status=400, message="title is too long.")
            privacy = post_info.get("privacy_level")
            if not inbox:
                options = PRIVACY_PRIVATE if acct.private else PRIVACY_PUBLIC
                if privacy not in options:
                    return _tt(code="privacy_level_option_mismatch", status=403,
                               message="privacy_level is not among the creator's options.")
                if not c.config.tiktok_audited and (
                    not acct.private or privacy != "SELF_ONLY"
                ):
                    return _tt(code="unaudited_client_can_only_post_to_private_accounts",
                               status=403, message="Unaudited clients can only post to "
                               "private accounts.")
                if direct_posts_24h(acct.account_id) >= c.config.tiktok_daily_cap:
                    return _tt(code="spam_risk_too_many_posts", status=403,
                               message="The creator has reached the daily post cap.")
            elif pending_shares_24h(acct.account_id) >= c.config.tiktok_pending_share_cap:
                return _tt(code="spam_risk_too_many_pending_share", status=403,
                           message="Too many pending shares.")
            prefixes = c.config.verified_prefixes
            for url in urls:
                if not url.startswith(("http://", "https://")) or (
                    prefixes is not None and not any(url.startswith(p) for p in prefixes)
                ):
                    return _tt(code="url_ownership_unverified", status=403,
                               message="The URL's domain or prefix is not verified.")
            n = next(c.ids)
            stem = ("p" if photo else "v") + ("_inbox" if inbox else "_pub")
            publish_id = (f"{stem}_file~v2-1.{n}" if source == "FILE_UPLOAD"
                          else f"{stem}_url~v2.{n}")
            fail = FAIL_MARK.search(" ".join([caption, *urls]))
            pub = _Publish(publish_id, acct.account_id,
                           "inbox" if inbox else ("photo" if photo else "video"),
                           caption or (urls[0] if urls else ""), privacy, source,
                           fail.group(1) if fail else None)
            c.publishes[publish_id] = pub
            data: dict[str, Any] = {"publish_id": publish_id}
            if source == "FILE_UPLOAD":
                pub.video_size = int(src["video_size"])
                pub.chunk_size = int(src["chunk_size"])
                pub.chunk_count = int(src["total_chunk_count"])
                pub.upload_id = str(n)
                pub.upload_token = secrets.token_urlsafe(12)
                pub.upload_expires = c.now() + c.config.upload_ttl
                base = str(request.base_url).rstrip("/")
                data["upload_url"] = (f"{base}/upload/video/?upload_id={pub.upload_id}"
                                      f"&upload_token={pub.upload_token}")
            else:
                accept(pub)  # TikTok starts pulling at once: the post is under way
            return _tt(data)

    def accept(pub: _Publish) -> None:
        pub.post = FakePost("tiktok", pub.account_id, pub.caption, pub.kind, pub.publish_id,
                            c.now(), post_id=str(7300000000000000000 + next(c.ids)))
        c.posts.append(pub.post)

    @app.post("/v2/post/publish/video/init/")
    async def video_init(request: Request) -> Response:
        return await init(request, "video")

    @app.post("/v2/post/publish/inbox/video/init/")
    async def inbox_init(request: Request) -> Response:
        return await init(request, "inbox")

    @app.post("/v2/post/publish/content/init/")
    async def content_init(request: Request) -> Response:
        return await init(request, "photo")

    @app.put("/upload/video/")
    async def upload(request: Request) -> Response:
        content = await request.body()
        with c.lock:
            q = request.query_params
            pub = next((p for p in c.publishes.values() if p.upload_id
                        and p.upload_id == q.get("upload_id")), None)
            if pub is None or pub.upload_token != q.get("upload_token"):
                return Response(status_code=404)
            if c.now() > pub.upload_expires:
                return Response(status_code=403)
            match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)",
                                 request.headers.get("content-range", "").strip())
            if not match or int(match.group(3)) != pub.video_size:
                return Response(status_code=400)
            first, last = int(match.group(1)), int(match.group(2))
            progress = ({"Content-Range": f"bytes 0-{pub.received - 1}/{pub.video_size}"}
                        if pub.received else {})
            if first != pub.received:
                return Response(status_code=416, headers=progress)
            index = first // pub.chunk_size
            final = index == pub.chunk_count - 1
            expected = pub.video_size - first if final else pub.chunk_size
            if last - first + 1 != len(content) or len(content) != expected:
                return Response(status_code=400)
            pub.received = last + 1
            headers = {"Content-Range": f"bytes 0-{last}/{pub.video_size}"}
            if pub.received >= pub.video_size:
                accept(pub)  # the final chunk starts posting
                return Response(status_code=201, headers=headers)
            return Response(status_code=206, headers=headers)

    @app.post("/v2/post/publish/status/fetch/")
    async def status_fetch(request: Request) -> Response:
        body = await _json_body(request)
        with c.lock:
            info, err = tt_auth(request, "video.publish", "video.upload")
            if info is None:
                return err  # type: ignore[return-value]
            if (limited := tt_rate(info, "status")) is not None:
                return limited
            pub = c.publishes.get(str(body.get("publish_id") or ""))
            if pub is None:
                return _tt(code="invalid_publish_id", status=400,
                           message="The publish_id does not exist.")
            if pub.account_id != info.account_id:
                return _tt(code="token_not_authorized_for_specified_publish_id", status=400,
                           message="The token cannot see this publish_id.")
            if pub.source == "FILE_UPLOAD" and pub.received < pub.video_size:
                return _tt({"status": "PROCESSING_UPLOAD", "uploaded_bytes": pub.received})
            pub.polls += 1
            if pub.cancelled:
                return _tt({"status": "FAILED", "fail_reason": "publish_cancelled"})
            if pub.polls <= c.config.tiktok_processing_polls:
                if pub.source == "FILE_UPLOAD":
                    return _tt({"status": "PROCESSING_UPLOAD", "uploaded_bytes": pub.received})
                return _tt({"status": "PROCESSING_DOWNLOAD", "downloaded_bytes": 0})
            if pub.fail_reason:
                if pub.post is not None:
                    pub.post.failed = True
                return _tt({"status": "FAILED", "fail_reason": pub.fail_reason})
            if pub.kind == "inbox":
                return _tt({"status": "SEND_TO_USER_INBOX"})
            public = pub.privacy == "PUBLIC_TO_EVERYONE" and pub.post is not None
            ids = [int(pub.post.post_id or 0)] if public and pub.post else []
            return _tt({"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": ids})

    @app.post("/v2/post/publish/cancel/")
    async def cancel(request: Request) -> Response:
        body = await _json_body(request)
        with c.lock:
            info, err = tt_auth(request, "video.publish", "video.upload")
            if info is None:
                return err  # type: ignore[return-value]
            pub = c.publishes.get(str(body.get("publish_id") or ""))
            if pub is None:
                return _tt(code="invalid_publish_id", status=400, message="Unknown publish_id.")
            if pub.source != "PULL_FROM_URL" or pub.polls > c.config.tiktok_processing_polls:
                return _tt(code="publish_not_cancellable", status=400,
                           message="The publish is already final.")
            pub.cancelled = True
            if pub.post is not None:
                pub.post.failed = True
            return _tt()

    def tt_oauth_error(error: str, description: str) -> JSONResponse:
        # Reported in the wild with HTTP 200: callers must look for the `error` key.
        return JSONResponse({"error": error, "error_description": description,
                             "log_id": secrets.token_hex(8)})

    def tt_issue(account_id: str, scopes: list[str]) -> dict[str, Any]:
        now = c.now()
        access = f"act.{secrets.token_urlsafe(24)}"
        refresh = f"rft.{secrets.token_urlsafe(24)}"
        c.tokens[access] = FakeToken(access, "tiktok", account_id, now,
                                     now + c.config.access_ttl, scopes)
        c.tokens[refresh] = FakeToken(refresh, "tiktok", account_id, now,
                                      now + c.config.refresh_ttl, scopes, kind="refresh")
        return {"access_token": access, "expires_in": c.config.access_ttl,
                "open_id": account_id, "refresh_expires_in": c.config.refresh_ttl,
                "refresh_token": refresh, "scope": ",".join(scopes), "token_type": "Bearer"}

    @app.post("/v2/oauth/token/")
    async def tt_token(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        with c.lock:
            if (form.get("client_key") != c.config.client_key
                    or form.get("client_secret") != c.config.client_secret):
                return tt_oauth_error("invalid_client", "Client key or secret is incorrect.")
            grant = form.get("grant_type")
            if grant == "authorization_code":
                entry = c.codes.pop(form.get("code", ""), None)
                if entry is None or entry[0] != "tiktok" or entry[3] < c.now():
                    return tt_oauth_error("invalid_grant", "Authorization code is expired.")
                if not form.get("redirect_uri"):
                    return tt_oauth_error("invalid_request", "redirect_uri is required.")
                scopes = entry[2] or ["user.info.basic", "video.publish", "video.upload"]
                return JSONResponse(tt_issue(entry[1], scopes))
            if grant == "refresh_token":
                old = c.tokens.get(form.get("refresh_token", ""))
                if (old is None or old.kind != "refresh" or old.revoked
                        or old.expires_at <= c.now()):
                    return tt_oauth_error("invalid_grant", "Refresh token is invalid or expired.")
                old.revoked = True  # rotation: the old refresh token stops working
                return JSONResponse(tt_issue(old.account_id, old.scopes))
            return tt_oauth_error("unsupported_grant_type", "Unsupported grant type.")

    @app.post("/v2/oauth/revoke/")
    async def tt_revoke(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        with c.lock:
            token = c.tokens.get(form.get("token", ""))
            if token is not None:
                token.revoked = True
        return Response(status_code=200)

    @app.get("/v2/user/info/")
    async def tt_user(request: Request) -> Response:
        with c.lock:
            info, err = tt_auth(request, "user.info.basic")
            if info is None:
                return err  # type: ignore[return-value]
            acct = c.accounts[("tiktok", info.account_id)]
            return _tt({"user": {"open_id": acct.account_id, "display_name": acct.username}})

    @app.api_route("/media/{name}", methods=["GET", "HEAD"])
    async def media_source(name: str, size: int = 1024) -> Response:
        """Deterministic bytes standing in for a creator's video or image host."""
        pattern = bytes(range(256))
        content = (pattern * (size // 256 + 1))[:size]
        ctype = "image/jpeg" if name.endswith((".jpg", ".jpeg")) else "video/mp4"
        return Response(content, media_type=ctype)

    register_instagram(app, c)
    return app


def register_instagram(app: FastAPI, c: FakeChannels) -> None:
    """Instagram Graph (`/{vNN.0}/...`) and Instagram Login OAuth routes."""

    async def params_of(request: Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query_params)
        ctype = request.headers.get("content-type", "")
        if "json" in ctype:
            params.update(await _json_body(request))
        elif "form" in ctype:
            params.update({k: v for k, v in (await request.form()).items()
                           if isinstance(v, str)})
        return params

    def ig_auth(
        request: Request, params: dict[str, Any], version: str
    ) -> tuple[FakeToken | None, JSONResponse | None]:
        if not IG_VERSION.match(version):
            return None, _ig_err(100, "Unknown path components: /" + version)
        token = _bearer(request) or params.get("access_token")
        info, problem = c.token_info(token, "instagram")
        if problem == "expired":
            return None, _ig_err(190, "Error validating access token: Session has expired.",
                                 subcode=463)
        if info is None:
            return None, _ig_err(190, "Invalid OAuth access token - Cannot parse access token",
                                 subcode=467)
        limit = c.config.ig_calls_per_hour
        if limit is not None and not c.take(info.token, "ig_calls", limit, 3600.0):
            usage = {info.account_id: [{"type": "instagram", "call_count": 100,
                                        "total_cputime": 100, "total_time": 100,
                                        "estimated_time_to_regain_access": 2}]}
            return None, _ig_err(80002, "There have been too many calls to this Instagram "
                                 "account.", headers={"X-Business-Use-Case-Usage": _dumps(usage)})
        return info, None

    def not_found(obj_id: str) -> JSONResponse:
        return _ig_err(100, f"Unsupported request. Object with ID '{obj_id}' does not exist, "
                       "cannot be loaded due to missing permissions, or does not support this "
                       "operation.", subcode=33)

    def owner_ok(info: FakeToken, ig_id: str) -> bool:
        return ig_id in ("me", info.account_id)

    def status_of(ct: _Container, *, read: bool) -> tuple[str, str]:
        if ct.published_media:
            return "PUBLISHED", "Published."
        if c.now() - ct.created_at > DAY:
            return "EXPIRED", "Expired."
        if read:
            ct.reads += 1
        if ct.reads <= c.config.ig_processing_polls:
            return "IN_PROGRESS", "In Progress"
        if ct.error:
            return "ERROR", ct.error
        return "FINISHED", "Finished."

    def ig_posts_24h(account_id: str) -> int:
        since = c.now() - DAY
        return sum(1 for p in c.posts if p.channel == "instagram"
                   and p.account_id == account_id and p.created_at > since)

    @app.post("/{version}/{ig_id}/media")
    async def create_container(version: str, ig_id: str, request: Request) -> Response:
        params = await params_of(request)
        with c.lock:
            info, err = ig_auth(request, params, version)
            if info is None:
                return err  # type: ignore[return-value]
            if not owner_ok(info, ig_id):
                return not_found(ig_id)
            since = c.now() - DAY
            recent = sum(1 for ct in c.containers.values()
                         if ct.account_id == info.account_id and ct.created_at > since)
            if recent >= c.config.ig_container_cap:
                return _ig_err(4, "Application request limit reached", transient=True)
            media_type = str(params.get("media_type") or "").upper()
            item = str(params.get("is_carousel_item", "")).lower() in ("true", "1")
            caption = str(params.get("caption") or "")
            if len(caption) > 2200 or len(HASHTAG.findall(caption)) > 30:
                return _ig_err(36004, "The caption is too long.", subcode=2207010)
            if len(MENTION.findall(caption)) > 20:
                return _ig_err(100, "Too many tags.", subcode=2207040)
            url = str(params.get("image_url") or params.get("video_url") or "")
            children: list[str] = []
            if media_type == "":
                if not params.get("image_url"):
                    return _ig_err(100, "The parameter image_url is required.")
            elif media_type in ("REELS", "VIDEO"):
                if not params.get("video_url"):
                    return _ig_err(100, "The parameter video_url is required.")
                if media_type == "VIDEO" and not item:
                    return _ig_err(100, "VIDEO is only for carousel items; use REELS.",
                                   subcode=2207023)
            elif media_type == "STORIES":
                if not url:
                    return _ig_err(100, "The parameter image_url or video_url is required.")
            elif media_type == "CAROUSEL":
                raw = params.get("children") or ""
                children = ([str(x) for x in raw] if isinstance(raw, list)
                            else [x for x in str(raw).strip("[]").replace('"', "").split(",")
                                  if x])
                if not 2 <= len(children) <= 10:
                    return _ig_err(100, "Carousel needs 2 to 10 children.", subcode=2207028,
                                   user_msg="The carousel has too little or too many "
                                   "attachments.")
                for child in children:
                    ct = c.containers.get(child)
                    if (ct is None or ct.account_id != info.account_id
                            or not ct.params.get("_item")):
                        return not_found(child)
            else:
                return _ig_err(100, "Unknown media type.", subcode=2207023)
            if media_type != "CAROUSEL" and (
                "fail-9004" in url or not url.startswith(("http://", "https://"))
            ):
                return _ig_err(9004, "Media could not be fetched from this URI.",
                               subcode=2207052)
            kind = {"": "image", "REELS": "reel", "STORIES": "story", "CAROUSEL": "carousel",
                    "VIDEO": "video"}[media_type]
            error = ("Error: Media upload has failed with error code 2207026"
                     if "bad-codec" in url else None)
            cid = c.new_id(digits=True)
            c.containers[cid] = _Container(cid, info.account_id, kind,
                                           {**params, "_item": item, "caption": caption},
                                           c.now(), error=error, children=children)
            return JSONResponse({"id": cid})

    @app.post("/{version}/{ig_id}/media_publish")
    async def media_publish(version: str, ig_id: str, request: Request) -> Response:
        params = await params_of(request)
        with c.lock:
            info, err = ig_auth(request, params, version)
            if info is None:
                return err  # type: ignore[return-value]
            if not owner_ok(info, ig_id):
                return not_found(ig_id)
            creation_id = str(params.get("creation_id") or "")
            ct = c.containers.get(creation_id)
            if ct is None or ct.account_id != info.account_id:
                return not_found(creation_id)
            if ct.params.get("_item"):
                return _ig_err(100, "Carousel items cannot be published on their own.")
            if ct.published_media:
                # Real behaviour unconfirmed; the reference recommends an error, no 2nd media.
                return _ig_err(100, "The media has already been published.")
            state, _ = status_of(ct, read=False)
            if state == "EXPIRED":
                return _ig_err(-2, "The media container has expired.", subcode=2207020)
            if state == "ERROR":
                return _ig_err(352, "The video format is not supported.", subcode=2207026)
            if state != "FINISHED":
                return _ig_err(9007, "Media ID is not available", subcode=2207027,
                               user_msg="The media is not ready for publishing, please wait "
                               "for a moment")
            if ig_posts_24h(info.account_id) >= c.config.ig_quota_total:
                return _ig_err(9, "Application request limit reached", subcode=2207042,
                               user_msg="You reached the maximum number of posts allowed in "
                               "24 hours.")
            media_id = c.new_id(digits=True)
            ct.published_media = media_id
            c.media[media_id] = ct
            c.posts.append(FakePost("instagram", info.account_id, str(ct.params["caption"]),
                                    ct.media_type, ct.id, c.now(), post_id=media_id))
            return JSONResponse({"id": media_id})

    @app.get("/{version}/{ig_id}/content_publishing_limit")
    async def publishing_limit(version: str, ig_id: str, request: Request) -> Response:
        params = await params_of(request)
        with c.lock:
            info, err = ig_auth(request, params, version)
            if info is None:
                return err  # type: ignore[return-value]
            if not owner_ok(info, ig_id):
                return not_found(ig_id)
            return JSONResponse({"data": [{
                "quota_usage": ig_posts_24h(info.account_id),
                "config": {"quota_total": c.config.ig_quota_total, "quota_duration": 86400},
            }]})

    @app.get("/{version}/{ig_id}/media")
    async def list_media(version: str, ig_id: str, request: Request) -> Response:
        params = await params_of(request)
        with c.lock:
            info, err = ig_auth(request, params, version)
            if info is None:
                return err  # type: ignore[return-value]
            rows = [{"id": p.post_id, "caption": p.caption} for p in reversed(c.posts)
                    if p.channel == "instagram" and p.account_id == info.account_id]
            return JSONResponse({"data": rows})

    @app.get("/{version}/me")
    async def me(version: str, request: Request) -> Response:
        params = await params_of(request)
        with c.lock:
            info, err = ig_auth(request, params, version)
            if info is None:
                return err  # type: ignore[return-value]
            acct = c.accounts.get(("instagram", info.account_id))
            return JSONResponse({"user_id": info.account_id, "id": info.account_id,
                                 "username": acct.username if acct else ""})

    @app.get("/{version}/{obj_id}")
    async def read_object(version: str, obj_id: str, request: Request) -> Response:
        params = await params_of(request)
        with c.lock:
            info, err = ig_auth(request, params, version)
            if info is None:
                return err  # type: ignore[return-value]
            ct = c.containers.get(obj_id)
            if ct is not None and ct.account_id == info.account_id:
                state, text = status_of(ct, read=True)
                return JSONResponse({"id": ct.id, "status_code": state, "status": text})
            media = c.media.get(obj_id)
            if media is not None and media.account_id == info.account_id:
                product = {"reel": "REELS", "story": "STORY"}.get(media.media_type, "FEED")
                mtype = {"reel": "VIDEO", "carousel": "CAROUSEL_ALBUM"}.get(
                    media.media_type, "IMAGE")
                return JSONResponse({"id": obj_id, "media_type": mtype,
                                     "media_product_type": product,
                                     "permalink": f"https://www.instagram.com/p/{obj_id}/",
                                     "shortcode": obj_id[-8:],
                                     "caption": media.params.get("caption", "")})
            return not_found(obj_id)

    # -- Instagram Login OAuth --------------------------------------------------------------

    def legacy_error(message: str) -> JSONResponse:
        return JSONResponse({"error_type": "OAuthException", "code": 400,
                             "error_message": message}, status_code=400)

    def ig_issue(account_id: str, scopes: list[str], ttl: float, kind: str) -> str:
        token = f"IGAA{secrets.token_urlsafe(24)}"
        c.tokens[token] = FakeToken(token, "instagram", account_id, c.now(), c.now() + ttl,
                                    scopes, kind=kind)
        return token

    @app.post("/oauth/access_token")
    async def ig_code(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        with c.lock:
            if (form.get("client_id") != c.config.client_key
                    or form.get("client_secret") != c.config.client_secret):
                return legacy_error("Invalid client_id or client_secret.")
            if form.get("grant_type") != "authorization_code" or not form.get("redirect_uri"):
                return legacy_error("Invalid grant_type or missing redirect_uri.")
            entry = c.codes.pop(form.get("code", ""), None)
            if entry is None or entry[0] != "instagram" or entry[3] < c.now():
                return legacy_error("This authorization code has been used or expired.")
            scopes = entry[2] or ["instagram_business_basic",
                                  "instagram_business_content_publish"]
            token = ig_issue(entry[1], scopes, 3600, "short")
            row = {"access_token": token, "user_id": entry[1], "permissions": ",".join(scopes)}
            return JSONResponse({"data": [row]} if c.config.ig_nested_code_response else row)

    @app.get("/access_token")
    async def ig_long_lived(request: Request) -> Response:
        q = request.query_params
        with c.lock:
            if q.get("grant_type") != "ig_exchange_token":
                return _ig_err(100, "Unsupported grant_type.")
            if q.get("client_secret") != c.config.client_secret:
                return _ig_err(100, "Error validating client secret.")
            info, problem = c.token_info(q.get("access_token"), "instagram")
            if info is None:
                return _ig_err(190, "Error validating access token.",
                               subcode=463 if problem == "expired" else 467)
            token = ig_issue(info.account_id, info.scopes, c.config.ig_token_ttl, "access")
            return JSONResponse({"access_token": token, "token_type": "bearer",
                                 "expires_in": c.config.ig_token_ttl})

    @app.get("/refresh_access_token")
    async def ig_refresh(request: Request) -> Response:
        q = request.query_params
        with c.lock:
            if q.get("grant_type") != "ig_refresh_token":
                return _ig_err(100, "Unsupported grant_type.")
            info, problem = c.token_info(q.get("access_token"), "instagram")
            if info is None:
                return _ig_err(190, "Error validating access token.",
                               subcode=463 if problem == "expired" else 467)
            if c.now() - info.issued_at < c.config.ig_refresh_min_age:
                return _ig_err(100, "The access token must be at least 24 hours old to be "
                               "refreshed.")
            token = ig_issue(info.account_id, info.scopes, c.config.ig_token_ttl, "access")
            return JSONResponse({"access_token": token, "token_type": "bearer",
                                 "expires_in": c.config.ig_token_ttl})


class FakeChannelsServer:
    """The fake on a free loopback port, in a background thread."""

    def __init__(self, control: FakeChannels | None = None) -> None:
        self.control = control or FakeChannels()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = build_app(self.control)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_config=None,
                                access_log=False, lifespan="off", http=_TrackingHttpTools,
                                timeout_graceful_shutdown=1, timeout_keep_alive=30)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()),
                                       daemon=True, name="fake-channels")

    def start(self) -> FakeChannelsServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the fake channels server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def in_memory_channels(
    config: FakeChannelsConfig | None = None,
) -> tuple[httpx.ASGITransport, FakeChannels]:
    """The same fake without a socket, for unit tests: pass the transport to
    `httpx.AsyncClient(transport=..., base_url=IN_MEMORY_BASE)` and use IN_MEMORY_BASE as the
    api_base. Hangs and drops behave as timeouts/read errors raised in process."""
    control = FakeChannels(config)
    return httpx.ASGITransport(app=build_app(control)), control


IN_MEMORY_BASE = "http://fake-channels.test"


@contextmanager
def start_fake_channels(config: FakeChannelsConfig | None = None) -> Iterator[FakeChannelsServer]:
    """Run the fake for a block: `.url` is the base for TIKTOK_API_BASE and INSTAGRAM_API_BASE
    (and the auth hosts), `.control` the FakeChannels."""
    server = FakeChannelsServer(FakeChannels(config)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fake_channels_server() -> Iterator[FakeChannelsServer]:
    """One fake per test session; use `fake_channels` for a clean state per test."""
    with start_fake_channels() as server:
        yield server


@pytest.fixture
async def fake_channels(fake_channels_server: FakeChannelsServer) -> AsyncIterator[
    FakeChannelsServer
]:
    """The session's fake, reset to default config and empty state for this test."""
    fake_channels_server.control.reset()
    yield fake_channels_server
    fake_channels_server.control.reset()

