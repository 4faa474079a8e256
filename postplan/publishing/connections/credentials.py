"""The worker's credentials: decrypted tokens for a channel, refreshed before they expire.

Refresh rules (docs/research.md, peers §3, pain point 11): the newest refresh token is always
persisted in the same transaction that stores the new access token; a refresh the platform
refuses marks the connection `needs_reauth` once and stops (no loop); a transient failure
leaves it connected.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postplan.channels.base import AuthError, ChannelError, Credentials, OAuthClient, TokenSet
from postplan.config import Settings
from postplan.core.crypto import TokenCipher
from postplan.core.db import utcnow
from postplan.core.logging import get_logger
from postplan.publishing.connections.store import (
    ACTIVE,
    NEEDS_REAUTH,
    cipher_for,
    load_connection,
)
from postplan.publishing.dbutil import single_statements, transaction
from postplan.publishing.tables import connections as conn_t

log = get_logger(__name__)

#: Refresh when the access token has less than this left.
REFRESH_MARGIN = dt.timedelta(minutes=5)


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
            row = await load_connection(conn, user_id, channel)
        else:
            async with (single_statements(self.engine) or self.engine).connect() as own:
                row = await load_connection(own, user_id, channel)
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
            row = await load_connection(conn, user_id, channel, for_update=True)
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
