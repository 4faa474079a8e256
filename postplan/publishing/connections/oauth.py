"""OAuth login for channels (TikTok Login Kit, Instagram Login): start and callback.

`start` stores a random `state` (hashed) with the PKCE verifier (encrypted), the user it belongs
to and the hash of the starting browser's binding nonce, valid for ten minutes and usable once;
`callback` trades the code for tokens and stores them encrypted. The callback is reached by the
platform's browser redirect, which carries no API credentials: the single-use state ties it to the
user who started it, and the binding cookie to the browser that started it (so nobody can finish
a login someone else started: `oauth_binding`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from postplan.channels.base import AuthError, ChannelError
from postplan.config import Settings
from postplan.core.db import begin_write, utcnow
from postplan.core.logging import get_logger
from postplan.publishing.connections import oauth_binding
from postplan.publishing.connections import store as connections
from postplan.publishing.errors import OAuthFailed, OAuthStateInvalid, OAuthStateMismatch
from postplan.publishing.gateway import ChannelGateway
from postplan.publishing.schemas import ConnectionOut, OAuthStartOut
from postplan.publishing.tables import oauth_states

log = get_logger(__name__)

STATE_TTL = dt.timedelta(minutes=10)


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def redirect_uri(settings: Settings, channel: str) -> str:
    """Where the platform sends the browser back (must be registered with the platform)."""
    return f"{settings.oauth_redirect_base.rstrip('/')}/v1/channels/{channel}/oauth/callback"


def _require_config(settings: Settings, channel: str) -> None:
    if not settings.adapter_configured(channel):
        raise connections.auth_problem(channel, "channel_config_missing",
                                       f"{channel} login is not configured on this server "
                                       "(app credentials missing)")


async def start(session: AsyncSession, settings: Settings, gateway: ChannelGateway,
                user_id: str, channel: str, *, browser_nonce: str) -> OAuthStartOut:
    """Create a state + PKCE pair bound to `browser_nonce`, and the platform's authorize URL."""
    channel = connections.parse_channel(channel).value
    _require_config(settings, channel)
    cipher = connections.cipher_for(settings)
    state = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    await begin_write(session)
    now = utcnow()
    uri = redirect_uri(settings, channel)
    await session.execute(oauth_states.insert().values(
        id=uuid.uuid4(), user_id=user_id, channel=channel, state_hash=_hash(state),
        code_verifier_enc=cipher.encrypt(verifier), redirect_uri=uri,
        expires_at=now + STATE_TTL, created_at=now,
        browser_binding_hash=oauth_binding.binding_hash(browser_nonce)))
    url = gateway.oauth(channel).authorize_url(state, uri, code_challenge=challenge)
    log.info("channel.oauth_started", channel=channel)
    return OAuthStartOut(authorize_url=url, state=state, expires_at=now + STATE_TTL)


async def callback(session: AsyncSession, settings: Settings, gateway: ChannelGateway,
                   channel: str, *, code: str | None, state: str | None,
                   error: str | None, error_description: str | None,
                   browser_nonce: str | None) -> ConnectionOut:
    """Consume the state once; unless the browser holds the state's binding nonce, stop there
    (403); else exchange the code and store the tokens encrypted."""
    channel = connections.parse_channel(channel).value
    _require_config(settings, channel)
    cipher = connections.cipher_for(settings)
    if not state:
        raise OAuthStateInvalid("the callback carries no state")
    now = utcnow()
    await begin_write(session)
    row: Any = (await session.execute(
        select(oauth_states).where(oauth_states.c.state_hash == _hash(state),
                                   oauth_states.c.channel == channel)
    )).one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise OAuthStateInvalid("this login link is unknown, used or expired; start again")
    used = await session.execute(
        update(oauth_states).where(oauth_states.c.id == row.id, oauth_states.c.used_at.is_(None))
        .values(used_at=now))
    if int(getattr(used, "rowcount", 0)) != 1:
        raise OAuthStateInvalid("this login link was already used; start again")
    if not oauth_binding.verify(browser_nonce, row.browser_binding_hash):
        # Burn the state (commit before raising): whoever started it could otherwise finish it
        # later with a code that was meant for this browser's account.
        await session.commit()
        log.warning("channel.oauth_state_mismatch", channel=channel,
                    bindingPresent=browser_nonce is not None)
        raise OAuthStateMismatch("this login was started in another browser (or its cookie "
                                 "expired); start the connection again from this browser")
    # The state is spent whatever happens next. Committing now also lets go of SQLite's write
    # lock before the platform's token exchange: a network call must not stall every writer.
    await session.commit()
    if error or not code:
        raise OAuthFailed(f"{channel} login was not completed: "
                          f"{error_description or error or 'no code returned'}",
                          code="oauth_denied", status_code=400)
    verifier = cipher.decrypt(row.code_verifier_enc) if row.code_verifier_enc else None
    try:
        tokens = await gateway.oauth(channel).exchange_code(code, row.redirect_uri,
                                                            code_verifier=verifier)
    except AuthError as exc:
        await session.commit()
        raise OAuthFailed(f"{channel} refused the login code: {exc.message}",
                          code="oauth_code_invalid", status_code=400) from None
    except ChannelError as exc:
        await session.commit()
        raise OAuthFailed(f"{channel} login failed: {exc.message}") from None
    await begin_write(session)
    saved = await connections.save_tokens(
        session, cipher, row.user_id, channel,
        access_token=tokens.access_token, refresh_token=tokens.refresh_token,
        expires_at=now + dt.timedelta(seconds=tokens.expires_in) if tokens.expires_in else None,
        refresh_expires_at=(now + dt.timedelta(seconds=tokens.refresh_expires_in)
                            if tokens.refresh_expires_in else None),
        account_id=tokens.account_id, scopes=tokens.scopes)
    log.info("channel.oauth_connected", channel=channel, userId=row.user_id)
    return connections.to_out(saved, cipher)
