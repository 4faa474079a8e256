"""State and controls of the fake platform: config, accounts, tokens, posts, the
scripted faults and the virtual clock (`FakeChannels`), shared with the test thread.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

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
    #: True: Instagram fetches each container's image_url/video_url like the real one does
    #: (a URL it cannot fetch is error 9004) and records what it got in `FakeChannels.fetched`.
    ig_fetch_media: bool = False


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
    #: SHA-256 of the bytes received by FILE_UPLOAD, in order.
    digest: Any = field(default_factory=hashlib.sha256)


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
            #: Instagram comments posted through the API, in order.
            self.comments: list[dict[str, str]] = []
            # The same posts by (channel, account): quota checks scan one account, not all.
            self.account_posts: dict[tuple[str, str], list[FakePost]] = {}
            self.calls: list[tuple[str, str]] = []
            self.publishes: dict[str, _Publish] = {}
            self.containers: dict[str, _Container] = {}
            self.media: dict[str, _Container] = {}
            #: URL → (HTTP status, SHA-256 of the body, content type) of what Instagram fetched.
            self.fetched: dict[str, tuple[int, str, str]] = {}
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

    def record_post(self, post: FakePost) -> None:
        """Add an accepted post to the ledger (call with the lock held)."""
        self.posts.append(post)
        self.account_posts.setdefault((post.channel, post.account_id), []).append(post)

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
