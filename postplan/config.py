"""All configuration in one place, validated at start.

Names are fixed by docs/contract.md §7; a bad value stops the process with a message naming the
variable.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class AuthMode(StrEnum):
    dev = "dev"
    supabase = "supabase"


DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./postplan.db"


class Settings(BaseSettings):
    """Process settings. Unset feature flags are OFF."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    database_url: str = Field(DEFAULT_SQLITE_URL, alias="DATABASE_URL")
    # Supabase's transaction pooler (pgbouncer/supavisor in transaction mode) breaks asyncpg's
    # prepared-statement cache; this turns it off.
    database_disable_statement_cache: bool = Field(False, alias="DATABASE_DISABLE_STATEMENT_CACHE")
    database_pool_size: int = Field(10, ge=1, le=200, alias="DATABASE_POOL_SIZE")

    auth_mode: AuthMode = Field(AuthMode.dev, alias="AUTH_MODE")
    supabase_jwt_secret: SecretStr | None = Field(None, alias="SUPABASE_JWT_SECRET")
    supabase_jwks_url: str | None = Field(None, alias="SUPABASE_JWKS_URL")
    supabase_jwt_audience: str = Field("authenticated", alias="SUPABASE_JWT_AUDIENCE")

    calendar_service_enabled: bool = Field(False, alias="CALENDAR_SERVICE_ENABLED")
    publish_service_enabled: bool = Field(False, alias="PUBLISH_SERVICE_ENABLED")
    flags_file: Path | None = Field(None, alias="FLAGS_FILE")
    flags_poll_seconds: float = Field(1.0, gt=0, le=60, alias="FLAGS_POLL_SECONDS")

    llm_base_url: str | None = Field(None, alias="LLM_BASE_URL")
    llm_api_key: SecretStr | None = Field(None, alias="LLM_API_KEY")
    llm_model: str = Field("gpt-4o-mini", alias="LLM_MODEL")
    ai_timeout_seconds: float = Field(60.0, gt=0, le=3600, alias="AI_TIMEOUT_SECONDS")

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
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="CORS_ORIGINS"
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

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
