"""Per-channel connection settings an adapter is built from (hosts, app credentials, timings)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChannelConfig:
    """Where a channel's API lives and how patient to be with it.

    `api_base` is a host without a path (the only way tests point adapters elsewhere);
    `token_base` is the host of Instagram's code exchange (`api.instagram.com` in production).
    """

    api_base: str
    auth_base: str = ""
    token_base: str = ""
    api_version: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    #: Seconds for ordinary API calls; uploads and media downloads get `upload_timeout`.
    timeout: float = 30.0
    connect_timeout: float = 10.0
    upload_timeout: float = 300.0
    #: Instagram container polling inside `prepare` (the docs allow once a minute for 5 min;
    #: images finish in seconds, so start fast and back off).
    container_poll_interval: float = 2.0
    container_poll_max_interval: float = 30.0
    container_poll_timeout: float = 600.0
    #: Keep a local per-token ledger of the documented per-minute limits and refuse (RetryLater)
    #: before the platform would answer 429.
    local_rate_limits: bool = True
    #: Chunk-level retries for TikTok FILE_UPLOAD PUTs (the docs advise re-sending a chunk).
    chunk_retries: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_base", self.api_base.rstrip("/"))
        object.__setattr__(self, "auth_base", self.auth_base.rstrip("/"))
        object.__setattr__(self, "token_base", (self.token_base or self.api_base).rstrip("/"))
