"""The channels edge: a PublishRequest in, an AdapterResult or a typed ChannelError out.

No database, no web framework, no `postplan.models`. The publishing domain drives an adapter
through these steps and persists what each returns before taking the next one:

    validate (offline)  ->  preflight (read-only)  ->  prepare (reversible, returns a handle)
        ->  [persist handle]  ->  publish (THE irreversible call, at most once)
        ->  poll (until published)                   on OutcomeUnknown: reconcile, never re-publish

Neither platform has idempotency keys, so the only protection against a double post is: persist
the handle before the irreversible call, call it at most once, and on an unclear outcome ask the
platform (`reconcile`) instead of calling it again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from postplan.core.logging import mask
from postplan.core.vocab import Channel, EntryFormat

__all__ = [
    "AdapterResult",
    "AdapterState",
    "AuthError",
    "ByteSource",
    "ChannelAdapter",
    "ChannelError",
    "Credentials",
    "Finding",
    "HandleCallback",
    "MediaOpener",
    "MediaRef",
    "OAuthClient",
    "OutcomeUnknown",
    "PermanentError",
    "PublishRequest",
    "RetryLater",
    "TokenSet",
]


class MediaRef(BaseModel):
    """One media item attached to an entry; `url` must be publicly fetchable by the platform.

    `media_id` marks a file postplan stores itself: its `url` is a signed URL under
    PUBLIC_BASE_URL (empty when none is configured), `size` and `content_type` come from
    storage, and its bytes are read through the request's opener (`PublishRequest.open_media`),
    never downloaded from a URL."""

    model_config = ConfigDict(frozen=True)

    url: str
    type: Literal["image", "video"]
    media_id: str | None = None
    size: int | None = None
    content_type: str | None = None
    #: A stored video's length (inspection), for the creator's longest-video check.
    duration_seconds: float | None = None


class ByteSource(Protocol):
    """Bytes of known total `size`, read exactly `n` at a time (the last read may be shorter
    only when fewer remain)."""

    size: int
    content_type: str

    async def read(self, n: int) -> bytes:
        """The next `n` bytes."""
        ...


MediaOpener = Callable[[MediaRef], AbstractAsyncContextManager[ByteSource]]
"""Opens a stored file's bytes. The domain binds it to the intent's user before handing the
request to an adapter, so the edge reads stored media without knowing storage or the database."""


class PublishRequest(BaseModel):
    """Everything an adapter needs, built by the domain from the latest saved entry.

    `caption` is the full text as it should appear (hashtags included); `hashtags` is the list
    without `#`, used only for limit checks. `options` carries channel-specific switches:

    * TikTok: `post_mode` (`DIRECT_POST` | `MEDIA_UPLOAD` = inbox draft), `source`
      (`PULL_FROM_URL` | `FILE_UPLOAD`, video only), `disable_comment`, `disable_duet`,
      `disable_stitch`, `is_aigc`, `brand_content_toggle`, `brand_organic_toggle`,
      `video_cover_timestamp_ms`, `photo_cover_index`, `auto_add_music`, `title` (photo title).
    * Instagram: `share_to_feed`, `alt_text`, `cover_url`, `thumb_offset`, `is_ai_generated`.
    """

    model_config = ConfigDict(frozen=True)

    intent_id: str
    channel: Channel
    format: EntryFormat
    caption: str
    hashtags: list[str] = Field(default_factory=list)
    media: list[MediaRef] = Field(default_factory=list)
    scheduled_at: datetime
    account_id: str
    privacy_level: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    #: Not part of the request's JSON: set by the domain at send time (`with_opener`).
    _opener: MediaOpener | None = PrivateAttr(default=None)

    def with_opener(self, opener: MediaOpener | None) -> PublishRequest:
        """A copy that reads stored media (`MediaRef.media_id`) through `opener`."""
        copy = self.model_copy()
        copy._opener = opener
        return copy

    def open_media(self, ref: MediaRef) -> AbstractAsyncContextManager[ByteSource]:
        """The bytes of a stored media item; PermanentError when no opener was given (a
        request that was never bound to its user's storage must not be sent)."""
        if ref.media_id is None or self._opener is None:
            raise PermanentError("media_unavailable",
                                 "The stored media file cannot be read for this request.")
        return self._opener(ref)


@dataclass(frozen=True)
class Credentials:
    """A user's token for one channel account. Its repr never shows the token."""

    access_token: str = field(repr=False)
    account_id: str

    def __repr__(self) -> str:
        token = mask(self.access_token)
        return f"Credentials(account_id={self.account_id!r}, access_token={token!r})"

    __str__ = __repr__


class Finding(BaseModel):
    """One offline validation problem; `code` is stable, `message` is for a human."""

    code: str
    message: str
    field: str | None = None


AdapterState = Literal["processing", "published", "not_published"]
"""`processing`: accepted, the platform is still working (poll again).
`published`: live (or, for TikTok inbox uploads, delivered to the user's inbox: `detail.inbox`).
`not_published`: only from `reconcile`: the irreversible call provably did not take effect, so it
is safe to publish again - with the same `handle` when one is given, else after a new `prepare`."""


class AdapterResult(BaseModel):
    """What a step achieved. `handle` is the platform's reference to persist (publish_id, container
    id); `platform_post_id` is the public post/media id once known."""

    state: AdapterState
    handle: str | None = None
    platform_post_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class ChannelError(Exception):
    """Base of every adapter failure. Messages never contain a token.

    `code` is postplan's stable code (e.g. `tiktok_rate_limited`); `platform_code` is the
    platform's own (`spam_risk_too_many_posts`, `9/2207042`); `handle` is a platform reference
    already created when the error happened (e.g. a TikTok publish_id) - persist it.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        platform_code: str | None = None,
        http_status: int | None = None,
        handle: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.platform_code = platform_code
        self.http_status = http_status
        self.handle = handle

    def __str__(self) -> str:
        suffix = f" [{self.platform_code}]" if self.platform_code else ""
        return f"{self.code}: {self.message}{suffix}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.code!r}, {self.message!r}, "
            f"platform_code={self.platform_code!r}, http_status={self.http_status!r})"
        )

    def as_error(self) -> dict[str, Any]:
        """The intent's `error` object: `{code, message, platformCode?}`."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.platform_code:
            out["platformCode"] = self.platform_code
        return out


class AuthError(ChannelError):
    """Token invalid, expired, revoked or missing a scope: a refresh may fix it, else re-auth
    (intent status `needs_reauth`). `needs_scope` is True when only a new consent can fix it."""

    def __init__(self, code: str, message: str, *, needs_scope: bool = False, **kw: Any) -> None:
        super().__init__(code, message, **kw)
        self.needs_scope = needs_scope


class RetryLater(ChannelError):
    """Nothing irreversible happened; try the same step again after `retry_after` seconds.

    `from_platform` is True when the delay came from the platform (Retry-After, usage headers);
    otherwise it is a jittered default the caller may stretch with its own attempt-based backoff.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retry_after: float,
        from_platform: bool = False,
        **kw: Any,
    ) -> None:
        super().__init__(code, message, **kw)
        self.retry_after = retry_after
        self.from_platform = from_platform


class PermanentError(ChannelError):
    """Retrying the same request cannot help: invalid params, media rejected, banned, daily cap.
    Carries the platform's code and a human message."""


class OutcomeUnknown(ChannelError):
    """The transport failed during or after the irreversible call: the post may be live.
    Never retry blind; call `reconcile` with `handle` (may be None)."""


HandleCallback = Callable[[str], Awaitable[None]]
"""Called by `publish` with a platform handle as soon as it exists and before any further work
(TikTok FILE_UPLOAD: the publish_id after init, before the bytes go up). Persist it durably."""


class TokenSet(BaseModel):
    """Tokens from an OAuth exchange or refresh. Lifetimes are remaining seconds, as sent."""

    access_token: str = Field(repr=False)
    refresh_token: str | None = Field(default=None, repr=False)
    expires_in: int | None = None
    refresh_expires_in: int | None = None
    account_id: str
    scopes: list[str] | None = None


class ChannelAdapter(Protocol):
    """One channel's publishing steps. Implementations are stateless apart from their HTTP client
    and a per-token local rate ledger, so one instance serves every account."""

    channel: Channel

    def build_payload(self, req: PublishRequest) -> dict[str, Any]:
        """The exact request(s) the adapter would send, for dry-run; deterministic, JSON-ready,
        no tokens."""
        ...

    def validate(
        self, req: PublishRequest, *, now: datetime, posts_in_last_24h: int
    ) -> list[Finding]:
        """Offline checks (no network): text limits, media presence/type/count per format,
        privacy option, time in the past, the channel's daily quota. Empty list = fine."""
        ...

    async def preflight(self, creds: Credentials, req: PublishRequest) -> None:
        """Read-only checks against the platform (TikTok creator_info, Instagram
        content_publishing_limit). Raises a ChannelError when the post cannot go ahead."""
        ...

    async def prepare(self, creds: Credentials, req: PublishRequest) -> str | None:
        """Reversible work before the irreversible call; returns a handle to persist first
        (Instagram: the container id, already FINISHED; TikTok: None). Safe to repeat."""
        ...

    async def publish(
        self,
        creds: Credentials,
        req: PublishRequest,
        handle: str | None,
        *,
        on_handle: HandleCallback | None = None,
    ) -> AdapterResult:
        """THE irreversible call; call at most once per intent. TikTok: init (+ upload) ->
        `processing` with the publish_id as handle; Instagram: media_publish -> `published`."""
        ...

    async def poll(self, creds: Credentials, req: PublishRequest, handle: str) -> AdapterResult:
        """One status check (no waiting loop). `processing` means ask again later; a publish that
        ended FAILED on the platform raises PermanentError with the platform's reason."""
        ...

    async def reconcile(
        self, creds: Credentials, req: PublishRequest, handle: str | None
    ) -> AdapterResult | None:
        """After OutcomeUnknown: ask the platform what happened. None = cannot tell (TikTok
        without a publish_id); a human must look. May raise like `poll`."""
        ...


class OAuthClient(Protocol):
    """A channel's login flow: authorize URL, code exchange, refresh (keep the newest tokens)."""

    channel: Channel

    def authorize_url(
        self, state: str, redirect_uri: str, code_challenge: str | None = None
    ) -> str:
        """Where to send the user's browser."""
        ...

    async def exchange_code(
        self, code: str, redirect_uri: str, code_verifier: str | None = None
    ) -> TokenSet:
        """Trade the callback's code for tokens (Instagram: already the long-lived token)."""
        ...

    async def refresh(self, refresh_token: str) -> TokenSet:
        """New tokens. TikTok rotates the refresh token; Instagram refreshes the long-lived
        access token itself (pass it as `refresh_token`)."""
        ...
