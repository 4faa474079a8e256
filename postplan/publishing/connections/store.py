"""A user's channel connections: tokens encrypted at rest, never echoed.

Storing, reading and forgetting a connection, and the check a live publish makes before it is
queued. The worker's side (decrypting, refreshing before expiry) is `credentials`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from postplan.config import Settings
from postplan.core.crypto import TokenCipher
from postplan.core.db import begin_write, utcnow
from postplan.core.logging import get_logger
from postplan.core.metrics import ADAPTER_AUTH_MISSING
from postplan.core.vocab import Channel
from postplan.publishing.dbutil import dialect_name
from postplan.publishing.errors import (
    ChannelAuthProblem,
    ConnectionNotFound,
    TokenEncryptionKeyMissing,
    UnknownChannel,
)
from postplan.publishing.schemas import ConnectionIn, ConnectionOut
from postplan.publishing.tables import connections as conn_t

log = get_logger(__name__)

ACTIVE = "active"
NEEDS_REAUTH = "needs_reauth"


def parse_channel(value: str) -> Channel:
    """A known channel, or 404."""
    try:
        return Channel(value)
    except ValueError:
        raise UnknownChannel(f"unknown channel {value!r}; use tiktok or instagram") from None


def cipher_for(settings: Settings) -> TokenCipher:
    """The token cipher, or a clear 503 when `TOKEN_ENCRYPTION_KEY` is not configured."""
    if settings.token_encryption_key is None:
        raise TokenEncryptionKeyMissing(
            "TOKEN_ENCRYPTION_KEY is not set: channel tokens cannot be stored encrypted"
        )
    return TokenCipher(settings.token_encryption_key.get_secret_value())


def preview(token: str) -> str:
    """Enough of a token to tell two apart, never enough to use it."""
    return "****" + token[-4:] if len(token) >= 12 else "****"


def to_out(row: Any, cipher: TokenCipher | None) -> ConnectionOut:
    token_preview = "****"
    if cipher is not None:
        try:
            token_preview = preview(cipher.decrypt(row.access_token_enc))
        except Exception:  # a rotated key must not make GET fail; the status says what to do
            token_preview = "****"
    return ConnectionOut(
        channel=row.channel, account_id=row.account_id, connected=row.status == ACTIVE,
        status=row.status, expires_at=row.expires_at, token_preview=token_preview,
        has_refresh_token=row.refresh_token_enc is not None, updated_at=row.updated_at,
    )


#: One user's connection to one channel (built once: the worker reads it for every post).
_CONNECTION = select(conn_t).where(
    conn_t.c.user_id == bindparam("user_id", type_=conn_t.c.user_id.type),
    conn_t.c.channel == bindparam("channel", type_=conn_t.c.channel.type))
_CONNECTION_FOR_UPDATE = _CONNECTION.with_for_update()


async def load_connection(session: AsyncSession | AsyncConnection, user_id: str, channel: str,
                          for_update: bool = False) -> Any:
    """One user's connection row for `channel` (None without one); `for_update` locks it on
    Postgres."""
    locked = for_update and dialect_name(session) == "postgresql"
    stmt = _CONNECTION_FOR_UPDATE if locked else _CONNECTION
    return (await session.execute(stmt, {"user_id": user_id, "channel": channel})).one_or_none()


async def save_tokens(
    session: AsyncSession, cipher: TokenCipher, user_id: str, channel: str, *,
    access_token: str, refresh_token: str | None, expires_at: dt.datetime | None,
    account_id: str, refresh_expires_at: dt.datetime | None = None,
    scopes: list[str] | None = None,
) -> Any:
    """Insert or replace a user's connection (one per channel), tokens encrypted."""
    now = utcnow()
    values: dict[str, Any] = {
        "account_id": account_id,
        "access_token_enc": cipher.encrypt(access_token),
        "refresh_token_enc": cipher.encrypt(refresh_token) if refresh_token else None,
        "expires_at": expires_at,
        "refresh_expires_at": refresh_expires_at,
        "scopes": ",".join(scopes) if scopes is not None else None,
        "status": ACTIVE,
        "last_error": None,
        "updated_at": now,
    }
    existing = await load_connection(session, user_id, channel, for_update=True)
    if existing is None:
        await session.execute(conn_t.insert().values(
            id=uuid.uuid4(), user_id=user_id, channel=channel, created_at=now, **values))
    else:
        await session.execute(update(conn_t).where(conn_t.c.id == existing.id).values(**values))
    return await load_connection(session, user_id, channel)


async def put_connection(session: AsyncSession, settings: Settings, user_id: str,
                         channel: str, body: ConnectionIn) -> ConnectionOut:
    """Store credentials a client obtained itself (docs/contract.md §2)."""
    cipher = cipher_for(settings)
    await begin_write(session)
    row = await save_tokens(
        session, cipher, user_id, parse_channel(channel).value,
        access_token=body.access_token, refresh_token=body.refresh_token,
        expires_at=body.expires_at.astimezone(dt.UTC) if body.expires_at else None,
        account_id=body.account_id,
    )
    log.info("channel.connection_saved", channel=channel)
    return to_out(row, cipher)


async def get_connection(session: AsyncSession, settings: Settings, user_id: str,
                         channel: str) -> ConnectionOut:
    """The connection's public view (never a token)."""
    row = await load_connection(session, user_id, parse_channel(channel).value)
    if row is None:
        raise ConnectionNotFound(f"no {channel} connection")
    cipher = cipher_for(settings) if settings.token_encryption_key else None
    return to_out(row, cipher)


async def delete_connection(session: AsyncSession, user_id: str, channel: str) -> None:
    """Forget a connection; 404 when there was none."""
    result = await session.execute(
        delete(conn_t).where(conn_t.c.user_id == user_id,
                             conn_t.c.channel == parse_channel(channel).value)
    )
    if int(getattr(result, "rowcount", 0)) == 0:
        raise ConnectionNotFound(f"no {channel} connection")
    log.info("channel.connection_deleted", channel=channel)


def auth_problem(channel: str, code: str, detail: str) -> ChannelAuthProblem:
    """The 422 for a live publish that cannot start, counted and logged (alerts watch both)."""
    reason = {"channel_auth_missing": "missing", "channel_auth_invalid": "invalid",
              "channel_config_missing": "config_missing"}[code]
    ADAPTER_AUTH_MISSING.labels(channel=channel, reason=reason).inc()
    log.warning("adapter.auth_missing", channel=channel, code=code, reason=reason)
    return ChannelAuthProblem(code, channel, detail)


async def check_ready(session: AsyncSession, settings: Settings, user_id: str, channel: str,
                      now: dt.datetime) -> None:
    """Raise the 422 problem when a live publish on `channel` could not even start."""
    if not settings.adapter_configured(channel):
        raise auth_problem(channel, "channel_config_missing",
                           f"{channel} publishing is not configured on this server "
                           "(app credentials missing)")
    if settings.token_encryption_key is None:
        raise auth_problem(channel, "channel_config_missing",
                           "TOKEN_ENCRYPTION_KEY is not set on this server")
    row = await load_connection(session, user_id, channel)
    if row is None:
        raise auth_problem(channel, "channel_auth_missing",
                           f"connect your {channel} account before publishing")
    if row.status != ACTIVE:
        raise auth_problem(channel, "channel_auth_invalid",
                           f"your {channel} connection needs to be renewed; reconnect it")
    expired = row.expires_at is not None and row.expires_at <= now
    if expired and row.refresh_token_enc is None:
        raise auth_problem(channel, "channel_auth_invalid",
                           f"your {channel} token has expired; reconnect it")
    try:
        cipher_for(settings).decrypt(row.access_token_enc)
    except Exception:
        raise auth_problem(channel, "channel_auth_invalid",
                           f"your {channel} token cannot be read; reconnect it") from None
