"""All configuration in one place, validated at start.

Names are fixed by docs/contract.md §7; a bad value stops the process with a message naming the
variable.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class AuthMode(StrEnum):
    dev = "dev"
    supabase = "supabase"


DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./postplan.db"


class Settings(BaseSettings):
    """Process settings. Unset feature flags are OFF."""

    # env_ignore_empty: `NAME=` (as in .env.example or a compose file) means unset, not "".
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False,
                                      env_ignore_empty=True)

    database_url: str = Field(DEFAULT_SQLITE_URL, alias="DATABASE_URL")
    # Supabase's transaction pooler (pgbouncer/supavisor in transaction mode) breaks asyncpg's
    # prepared-statement cache; this turns it off.
    database_disable_statement_cache: bool = Field(False, alias="DATABASE_DISABLE_STATEMENT_CACHE")
    database_pool_size: int = Field(10, ge=1, le=200, alias="DATABASE_POOL_SIZE")

    auth_mode: AuthMode = Field(AuthMode.dev, alias="AUTH_MODE")
    supabase_jwt_secret: SecretStr | None = Field(None, alias="SUPABASE_JWT_SECRET")
    supabase_jwks_url: str | None = Field(None, alias="SUPABASE_JWKS_URL")
    supabase_jwt_audience: str = Field("authenticated", alias="SUPABASE_JWT_AUDIENCE")
    # Dev auth answers loopback peers only. In a container on a bridge network the host's
    # requests arrive from the bridge gateway: listing that network here (CIDRs, comma-separated)
    # is the explicit, logged way to trust it. Empty = loopback only.
    dev_auth_trusted_networks: Annotated[list[ipaddress.IPv4Network | ipaddress.IPv6Network],
                                         NoDecode] = Field(
        default_factory=list, alias="DEV_AUTH_TRUSTED_NETWORKS")

    calendar_service_enabled: bool = Field(False, alias="CALENDAR_SERVICE_ENABLED")
    publish_service_enabled: bool = Field(False, alias="PUBLISH_SERVICE_ENABLED")
    flags_file: Path | None = Field(None, alias="FLAGS_FILE")
    flags_poll_seconds: float = Field(1.0, gt=0, le=60, alias="FLAGS_POLL_SECONDS")

    llm_base_url: str | None = Field(None, alias="LLM_BASE_URL")
    llm_api_key: SecretStr | None = Field(None, alias="LLM_API_KEY")
    llm_model: str = Field("gpt-4o-mini", alias="LLM_MODEL")
    ai_timeout_seconds: float = Field(60.0, gt=0, le=3600, alias="AI_TIMEOUT_SECONDS")
    # Model calls at once in this process; more runs wait (their `run` event says queued).
    llm_max_concurrency: int = Field(4, ge=1, le=256, alias="LLM_MAX_CONCURRENCY")
    # response_format json_schema: auto = try it, fall back when the server refuses it.
    llm_structured_output: str = Field("auto", pattern="^(auto|on|off)$",
                                       alias="LLM_STRUCTURED_OUTPUT")
    # Tries per model call on 429/5xx/connection errors before the answer starts.
    llm_max_attempts: int = Field(4, ge=1, le=10, alias="LLM_MAX_ATTEMPTS")

    tiktok_api_base: str = Field("https://open.tiktokapis.com", alias="TIKTOK_API_BASE")
    tiktok_auth_base: str = Field("https://www.tiktok.com", alias="TIKTOK_AUTH_BASE")
    tiktok_client_key: str | None = Field(None, alias="TIKTOK_CLIENT_KEY")
    tiktok_client_secret: SecretStr | None = Field(None, alias="TIKTOK_CLIENT_SECRET")
    instagram_api_base: str = Field("https://graph.instagram.com", alias="INSTAGRAM_API_BASE")
    instagram_auth_base: str = Field("https://www.instagram.com", alias="INSTAGRAM_AUTH_BASE")
    instagram_api_version: str = Field("v25.0", alias="INSTAGRAM_API_VERSION")
    instagram_app_id: str | None = Field(None, alias="INSTAGRAM_APP_ID")
    instagram_app_secret: SecretStr | None = Field(None, alias="INSTAGRAM_APP_SECRET")
    oauth_redirect_base: str = Field("http://127.0.0.1:8000", alias="OAUTH_REDIRECT_BASE")
    token_encryption_key: SecretStr | None = Field(None, alias="TOKEN_ENCRYPTION_KEY")

    log_level: str = Field("INFO", alias="LOG_LEVEL")
    log_file: Path | None = Field(None, alias="LOG_FILE")
    # auto: readable console lines on a terminal, JSON otherwise (LOG_FILE, pipes, containers).
    log_format: Literal["auto", "json", "console"] = Field("auto", alias="LOG_FORMAT")

    max_body_bytes: int = Field(1_048_576, ge=1024, alias="MAX_BODY_BYTES")
    # A request's line and headers together; more is 431 before the app sees the request.
    max_header_bytes: int = Field(32_768, ge=4096, le=1_048_576, alias="MAX_HEADER_BYTES")
    # Time a client has to send a whole request head (trickling bytes does not extend it).
    header_read_timeout_seconds: float = Field(10.0, gt=0, le=300,
                                               alias="HEADER_READ_TIMEOUT_SECONDS")
    # Entries one calendar may hold (generation and import refuse to add beyond it, 413). One
    # run is at most 92 days x 2 channels x 3 posts a day = 552 entries; 5,000 holds nine such
    # runs, or two years of the densest schedule, and renders (export, feed) in well under 1 s.
    max_entries_per_calendar: int = Field(5_000, ge=1, le=1_000_000,
                                          alias="MAX_ENTRIES_PER_CALENDAR")
    worker_enabled: bool = Field(True, alias="WORKER_ENABLED")
    worker_poll_seconds: float = Field(0.5, gt=0, le=60, alias="WORKER_POLL_SECONDS")
    # Webhook delivery (docs/notifications.md): each attempt's timeout, how many run at once,
    # the first retry's delay (each next one 4x longer, capped at 6 h), attempts before giving up,
    # and how often the loop looks for new events.
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60, alias="WEBHOOK_TIMEOUT_SECONDS")
    webhook_concurrency: int = Field(8, ge=1, le=256, alias="WEBHOOK_CONCURRENCY")
    # Of those, at most this many to one endpoint: a hanging endpoint with a backlog holds its
    # own share, never every slot (other users' deliveries keep flowing).
    webhook_per_endpoint: int = Field(2, ge=1, le=256, alias="WEBHOOK_PER_ENDPOINT")
    webhook_retry_base_seconds: float = Field(5.0, gt=0, le=3600,
                                              alias="WEBHOOK_RETRY_BASE_SECONDS")
    webhook_max_attempts: int = Field(8, ge=1, le=50, alias="WEBHOOK_MAX_ATTEMPTS")
    webhook_poll_seconds: float = Field(1.0, gt=0, le=60, alias="WEBHOOK_POLL_SECONDS")
    # The window of the per-account publish limits the workers share (TikTok: 6 inits per
    # window). 60 mirrors the platforms; tests shrink it to prove pacing in seconds.
    # In-process alert evaluation (Prometheus with deploy/prometheus/alerts.yml is the source of
    # truth): off; on in every API process; leader = in one process of the cluster (a lease row
    # on the database; on SQLite the one process). docs/cluster.md.
    alerts_in_process: Literal["off", "on", "leader"] = Field("leader", alias="ALERTS_IN_PROCESS")
    # Retention (docs/cluster.md): how long rows live, and how often one process prunes.
    idempotency_ttl_hours: float = Field(24 * 7, gt=0, alias="IDEMPOTENCY_TTL_HOURS")
    oauth_state_ttl_hours: float = Field(24, gt=0, alias="OAUTH_STATE_TTL_HOURS")
    notification_ttl_days: float = Field(90, gt=0, alias="NOTIFICATION_TTL_DAYS")
    # Spool leftovers kept for a human (torn tails, dead letters) and stale compaction files.
    spool_leftover_ttl_days: float = Field(30, gt=0, alias="SPOOL_LEFTOVER_TTL_DAYS")
    retention_interval_seconds: float = Field(3600, gt=0, le=86400,
                                              alias="RETENTION_INTERVAL_SECONDS")
    pacing_window_seconds: float = Field(60.0, gt=0, le=3600, alias="PACING_WINDOW_SECONDS")
    # A slot is taken a moment before the call reaches the platform (a creator-info query and
    # the network sit between): each slot is held this much longer than the window.
    pacing_margin_seconds: float = Field(1.0, ge=0, le=60, alias="PACING_MARGIN_SECONDS")
    # First look at the platform after an ambiguous answer (a lost or 5xx irreversible call);
    # later looks back off from it (publishing/worker/context.py reconcile_schedule).
    reconcile_first_seconds: float = Field(5.0, gt=0, le=600,
                                           alias="RECONCILE_FIRST_SECONDS")
    spool_dir: Path = Field(Path("./.postplan-spool"), alias="SPOOL_DIR")
    # Bounds of the database-down spool: the file, one user's share of it, one request. The
    # record default fits the largest valid publish request (5,000 entry ids).
    spool_max_bytes: int = Field(256 << 20, ge=4096, alias="SPOOL_MAX_BYTES")
    spool_max_user_bytes: int = Field(16 << 20, ge=4096, alias="SPOOL_MAX_USER_BYTES")
    spool_max_record_bytes: int = Field(256 << 10, ge=4096, alias="SPOOL_MAX_RECORD_BYTES")
    sse_ping_seconds: float = Field(15.0, gt=0, le=300, alias="SSE_PING_SECONDS")
    sse_send_timeout_seconds: float = Field(30.0, gt=0, le=600, alias="SSE_SEND_TIMEOUT_SECONDS")
    # Bounds on the work one user can cause (issue 12 item 6): see calendars/runs/executor.py and
    # calendars/runs/tail.py for how each is enforced.
    run_abandon_seconds: float = Field(10.0, gt=0, le=3600, alias="RUN_ABANDON_SECONDS")
    max_concurrent_runs_per_user: int = Field(3, ge=1, le=1000,
                                              alias="MAX_CONCURRENT_RUNS_PER_USER")
    max_streams_per_run: int = Field(10, ge=1, le=10_000, alias="MAX_STREAMS_PER_RUN")
    max_streams_per_user: int = Field(20, ge=1, le=10_000, alias="MAX_STREAMS_PER_USER")
    run_tail_poll_seconds: float = Field(0.25, gt=0, le=60, alias="RUN_TAIL_POLL_SECONDS")
    run_tail_poll_max_seconds: float = Field(2.0, gt=0, le=300,
                                             alias="RUN_TAIL_POLL_MAX_SECONDS")
    deploy_id: str | None = Field(None, alias="DEPLOY_ID")
    # OpenTelemetry: spans for requests, runs and publish jobs go to this OTLP/HTTP endpoint
    # (e.g. http://127.0.0.1:4318); unset = tracing off, nothing installed.
    otel_exporter_otlp_endpoint: str | None = Field(None, alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    otel_service_name: str = Field("postplan", alias="OTEL_SERVICE_NAME")
    # Media (docs/media.md): the local folder (the embedded default store, and where resumable
    # uploads collect their bytes), or an S3-compatible bucket `s3://bucket[/prefix]` with its
    # endpoint (R2, MinIO, Supabase Storage; unset: AWS) and credentials.
    media_dir: Path = Field(Path("./.postplan-media"), alias="MEDIA_DIR")
    media_max_bytes: int = Field(4 << 30, ge=1, alias="MEDIA_MAX_BYTES")
    media_quota_bytes: int = Field(50 << 30, ge=1, alias="MEDIA_QUOTA_BYTES")
    media_store_url: str | None = Field(None, alias="MEDIA_STORE_URL")
    media_store_endpoint: str | None = Field(None, alias="MEDIA_STORE_ENDPOINT")
    media_store_access_key_id: str | None = Field(None, alias="MEDIA_STORE_ACCESS_KEY_ID")
    media_store_secret_access_key: SecretStr | None = Field(
        None, alias="MEDIA_STORE_SECRET_ACCESS_KEY")
    media_store_region: str = Field("us-east-1", alias="MEDIA_STORE_REGION")
    # Signed media URLs (what Instagram pulls): PUBLIC_BASE_URL + /v1/media/{id}/content?...
    public_base_url: str = Field("http://127.0.0.1:8000", alias="PUBLIC_BASE_URL")
    media_signing_key: SecretStr | None = Field(None, alias="MEDIA_SIGNING_KEY")
    media_url_ttl_seconds: int = Field(3600, ge=60, le=7 * 86400, alias="MEDIA_URL_TTL_SECONDS")
    # The job that inspects uploads runs in every API process (and `postplan worker`); rows are
    # leased, so any number of processes may run it. Polled every MEDIA_POLL_SECONDS (an upload
    # in the same process starts it at once).
    media_processing_enabled: bool = Field(True, alias="MEDIA_PROCESSING_ENABLED")
    # Stored files no media row names are removed once this old (hourly, docs/media.md).
    media_orphan_hours: float = Field(24, gt=0, le=24 * 365, alias="MEDIA_ORPHAN_HOURS")
    media_poll_seconds: float = Field(5.0, gt=0, le=300, alias="MEDIA_POLL_SECONDS")
    # A resumable upload left unfinished this long is removed with its bytes.
    media_upload_ttl_seconds: int = Field(86400, ge=60, le=30 * 86400,
                                          alias="MEDIA_UPLOAD_TTL_SECONDS")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="CORS_ORIGINS"
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("dev_auth_trusted_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _check_db_url(cls, value: str) -> str:
        if value.startswith("postgres://") or value.startswith("postgresql://"):
            # Supabase hands out plain postgres:// URLs; use the async driver for them.
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not (value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("tiktok_api_base", "instagram_api_base", "tiktok_auth_base",
                     "instagram_auth_base")
    @classmethod
    def _check_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL without a path")
        return value.rstrip("/")

    @field_validator("public_base_url", "media_store_endpoint")
    @classmethod
    def _check_public_base(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/") if value is not None else None

    @field_validator("media_store_url")
    @classmethod
    def _check_store_url(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("s3://") or len(value) <= len("s3://")):
            raise ValueError("must be s3://bucket or s3://bucket/prefix")
        return value

    @model_validator(mode="after")
    def _check_spool_bounds(self) -> Settings:
        if not self.spool_max_record_bytes <= self.spool_max_user_bytes <= self.spool_max_bytes:
            raise ValueError("need SPOOL_MAX_RECORD_BYTES <= SPOOL_MAX_USER_BYTES <= "
                             "SPOOL_MAX_BYTES")
        return self

    @model_validator(mode="after")
    def _check_auth(self) -> Settings:
        if self.auth_mode is AuthMode.supabase and not (
            self.supabase_jwt_secret or self.supabase_jwks_url
        ):
            raise ValueError(
                "AUTH_MODE=supabase needs SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def default_flags_file(self) -> Path | None:
        """`FLAGS_FILE`, else for a SQLite database file the flags file beside it
        (`./postplan.db` → `./postplan.flags.json`), which `postplan serve`, `postplan worker`
        and `postplan flags` all use, so the README's commands work with no setup. None on
        Postgres or an in-memory database without `FLAGS_FILE`."""
        if self.flags_file is not None:
            return self.flags_file
        if not self.is_sqlite:
            return None
        database = self.database_url.split(":///", 1)[1] if ":///" in self.database_url else ""
        database = database.split("?", 1)[0]
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        path = Path(database)
        return path.with_name(path.stem + ".flags.json")

    def adapter_configured(self, channel: str) -> bool:
        """Whether the app credentials a channel's OAuth and refresh need are present."""
        if channel == "tiktok":
            return bool(self.tiktok_client_key and self.tiktok_client_secret)
        if channel == "instagram":
            return bool(self.instagram_app_id and self.instagram_app_secret)
        return False


def is_loopback(host: str) -> bool:
    """True for addresses that only this machine can reach."""
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # ::ffff:127.0.0.1 is loopback too (Python 3.11 says otherwise).
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
