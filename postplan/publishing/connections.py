"""A user's channel connections: tokens encrypted at rest, never echoed, refreshed before expiry.

Refresh rules (docs/research.md, peers §3, pain point 11): the newest refresh token is always
persisted in the same transaction that stores the new access token; a refresh the platform
refuses marks the connection `needs_reauth` once and stops (no loop); a transient failure
leaves it connected.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from postplan.channels.base import AuthError, ChannelError, Credentials, OAuthClient, TokenSet
from postplan.config import Settings
from postplan.core.crypto import TokenCipher
from postplan.core.db import begin_write, utcnow
from postplan.core.logging import get_logger
from postplan.core.metrics import ADAPTER_AUTH_MISSING
from postplan.core.vocab import Channel
from postplan.publishing.dbutil import dialect_name, single_statements, transaction
from postplan.publishing.errors import (
    ChannelAuthProblem,
    ConnectionNotFound,
    TokenEncryptionKeyMissing,
    UnknownChannel,
)
from postplan.publishing.schemas import ConnectionIn, ConnectionOut
from postplan.publishing.tables import connections as conn_t

log = get_logger(__name__)

#: Refresh when the access token has less than this left.
REFRESH_MARGIN = dt.timedelta(minutes=5)

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


async def _load(session: AsyncSession | AsyncConnection, user_id: str, channel: str,
                for_update: bool = False) -> Any:
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
    existing = await _load(session, user_id, channel, for_update=True)
    if existing is None:
        await session.execute(conn_t.insert().values(
            id=uuid.uuid4(), user_id=user_id, channel=channel, created_at=now, **values))
    else:
        await session.execute(update(conn_t).where(conn_t.c.id == existing.id).values(**values))
    return await _load(session, user_id, channel)


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
    row = await _load(session, user_id, parse_channel(channel).value)
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
    row = await _load(session, user_id, channel)
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


async def mark_needs_reauth(engine: AsyncEngine, user_id: str, channel: str,
                           error: dict[str, Any] | None) -> None:
    """The platform refused this connection's token: later live publishes are refused with
    422 `channel_auth_invalid` until the user reconnects, instead of retrying a dead token."""
    async with transaction(engine) as conn:
        await conn.execute(update(conn_t).where(
            conn_t.c.user_id == user_id, conn_t.c.channel == channel,
            conn_t.c.status == ACTIVE,
        ).values(status=NEEDS_REAUTH, last_error=error, updated_at=utcnow()))
    log.warning("channel.needs_reauth", channel=channel, code=(error or {}).get("code"),
                status=NEEDS_REAUTH)


@dataclass(frozen=True)
class Stored:
    """A connection row read elsewhere (`row` is None when the user has no connection)."""

    row: Any


#: The columns `CredentialStore.get` needs, for a query that reads them alongside its own.
STORED_COLUMNS = ("status", "access_token_enc", "refresh_token_enc", "expires_at",
                  "account_id", "updated_at")


@dataclass
class CredentialResult:
    """Usable credentials, or why there are none."""

    creds: Credentials | None
    error: dict[str, Any] | None = None
    transient: bool = False
    #: A refresh is due but was not done: the caller holds a connection (see `get`).
    refresh_due: bool = False


class CredentialStore:
    """Loads decrypted credentials for the worker, refreshing them first when they are due."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def get(self, user_id: str, channel: str, oauth: OAuthClient | None,
                  *, force_refresh: bool = False, conn: AsyncConnection | None = None,
                  stored: Stored | None = None) -> CredentialResult:
        """Credentials for (user, channel); refreshed when within REFRESH_MARGIN of expiry.

        `conn` reuses a connection the caller already holds (one checkout per job). A refresh
        needs a connection of its own (it locks the row across the OAuth call), so with `conn`
        a due refresh is not done but reported (`refresh_due`): the caller asks again after
        letting go of `conn`. Nesting the two would let a worker whose pool has no overflow
        wait on itself.

        `stored` is the connection row as the caller already read it (the worker's claim reads
        it in the same statement): no read at all then.
        """
        if self.settings.token_encryption_key is None:
            return CredentialResult(None, {"code": "channel_config_missing",
                                           "message": "TOKEN_ENCRYPTION_KEY is not set"})
        cipher = cipher_for(self.settings)
        row: Any
        if stored is not None:
            row = stored.row
        elif conn is not None:
            row = await _load(conn, user_id, channel)
        else:
            async with (single_statements(self.engine) or self.engine).connect() as own:
                row = await _load(own, user_id, channel)
        if row is None:
            return CredentialResult(None, {"code": "channel_auth_missing",
                                           "message": f"no {channel} connection"})
        if row.status != ACTIVE:
            return CredentialResult(None, {"code": "channel_auth_invalid",
                                           "message": f"the {channel} connection needs "
                                                      "to be renewed"})
        now = utcnow()
        due = row.expires_at is not None and row.expires_at - now < REFRESH_MARGIN
        if (due or force_refresh) and row.refresh_token_enc is not None and oauth is not None:
            if conn is not None:
                return CredentialResult(None, refresh_due=True)
            return await self._refresh(user_id, channel, oauth, cipher, row.updated_at)
        if row.expires_at is not None and row.expires_at <= now:
            return CredentialResult(None, {"code": "channel_auth_invalid",
                                           "message": f"the {channel} token has expired"})
        try:
            token = cipher.decrypt(row.access_token_enc)
        except Exception:  # a rotated TOKEN_ENCRYPTION_KEY: only a reconnect can fix it
            log.error("channel.token_undecryptable", channel=channel)
            return CredentialResult(None, {"code": "channel_auth_invalid",
                                           "message": f"the stored {channel} token cannot be "
                                                      "read; reconnect the account"})
        return CredentialResult(Credentials(access_token=token, account_id=row.account_id))

    async def _refresh(self, user_id: str, channel: str, oauth: OAuthClient,
                       cipher: TokenCipher, seen_version: dt.datetime) -> CredentialResult:
        lock = self._locks.setdefault((user_id, channel), asyncio.Lock())
        async with lock, transaction(self.engine, immediate=True) as conn:
            # Re-read under the row lock: another worker may have refreshed already, and a
            # rotated refresh token may only be used once.
            row = await _load(conn, user_id, channel, for_update=True)
            if row is None or row.status != ACTIVE:
                return CredentialResult(None, {"code": "channel_auth_invalid",
                                               "message": f"the {channel} connection is gone"})
            if row.updated_at != seen_version and row.expires_at is not None and \
                    row.expires_at - utcnow() >= REFRESH_MARGIN:
                return CredentialResult(Credentials(cipher.decrypt(row.access_token_enc),
                                                    row.account_id))
            try:
                tokens: TokenSet = await oauth.refresh(cipher.decrypt(row.refresh_token_enc))
            except AuthError as exc:
                await conn.execute(update(conn_t).where(conn_t.c.id == row.id).values(
                    status=NEEDS_REAUTH, last_error=exc.as_error(), updated_at=utcnow()))
                log.warning("channel.refresh_failed", channel=channel, code=exc.code,
                            status=NEEDS_REAUTH)
                return CredentialResult(None, {"code": "channel_auth_invalid",
                                               "message": f"the {channel} login expired; "
                                                          "reconnect the account",
                                               "platformCode": exc.platform_code})
            except ChannelError as exc:
                log.warning("channel.refresh_transient", channel=channel, code=exc.code)
                return CredentialResult(None, exc.as_error(), transient=True)
            now = utcnow()
            values: dict[str, Any] = {
                "access_token_enc": cipher.encrypt(tokens.access_token),
                "expires_at": (now + dt.timedelta(seconds=tokens.expires_in)
                               if tokens.expires_in else None),
                "refreshed_at": now, "updated_at": now, "last_error": None,
            }
            if tokens.refresh_token:
                values["refresh_token_enc"] = cipher.encrypt(tokens.refresh_token)
            if tokens.refresh_expires_in:
                values["refresh_expires_at"] = now + dt.timedelta(
                    seconds=tokens.refresh_expires_in)
            await conn.execute(update(conn_t).where(conn_t.c.id == row.id).values(**values))
            log.info("channel.token_refreshed", channel=channel)
            return CredentialResult(Credentials(tokens.access_token, row.account_id))
