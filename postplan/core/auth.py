"""Who is calling: dev mode (`X-User-Id`) or a verified Supabase JWT (DESIGN.md §2)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from postplan.config import AuthMode, Settings
from postplan.core.context import bind
from postplan.core.errors import Unauthorized
from postplan.core.peer import browser_reason, not_local_reason

_USER_ID = re.compile(r"^[A-Za-z0-9_.@:-]{1,128}$")


@dataclass(frozen=True)
class User:
    id: str
    claims: dict[str, Any]


class Authenticator:
    """Turns request headers into a `User`, or raises a 401 problem."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks: jwt.PyJWKClient | None = None
        if settings.supabase_jwks_url:
            self._jwks = jwt.PyJWKClient(settings.supabase_jwks_url, cache_keys=True, lifespan=300)

    async def authenticate(self, request: Request) -> User:
        if self.settings.auth_mode is AuthMode.dev:
            return self._dev_user(request)
        return await self._supabase_user(request)

    def _dev_user(self, request: Request) -> User:
        # `postplan serve` refuses a public bind in dev mode, but an app started another way
        # (a bare uvicorn on 0.0.0.0, on a Unix socket, behind a proxy) cannot see how it is
        # served: so dev identities are only accepted from a peer the transport proves is on
        # this machine (postplan.core.peer says how).
        reason = (not_local_reason(request.scope, request.headers)
                  or browser_reason(request.headers, self.settings.cors_origins))
        if reason is not None:
            raise Unauthorized(f"AUTH_MODE=dev accepts requests from this machine only: {reason}",
                               code="dev_auth_not_loopback")
        raw = request.headers.get("x-user-id", "local").strip() or "local"
        if not _USER_ID.match(raw):
            raise Unauthorized("X-User-Id must be 1-128 letters, digits or _.@:-",
                               code="invalid_user_id")
        return User(id=raw, claims={})

    async def _supabase_user(self, request: Request) -> User:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("a Bearer token is required", code="auth_missing",
                               headers={"WWW-Authenticate": "Bearer"})
        token = token.strip()
        try:
            header_data = jwt.get_unverified_header(token)
            alg = header_data.get("alg")
            key: Any
            if alg == "HS256":
                if self.settings.supabase_jwt_secret is None:
                    raise Unauthorized("HS256 tokens are not accepted here", code="auth_invalid")
                key = self.settings.supabase_jwt_secret.get_secret_value()
            elif alg in {"ES256", "RS256"} and self._jwks is not None:
                jwks = self._jwks
                key = (await asyncio.to_thread(jwks.get_signing_key_from_jwt, token)).key
            else:
                raise Unauthorized(f"token algorithm {alg!r} is not accepted", code="auth_invalid")
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.settings.supabase_jwt_audience,
                options={"require": ["exp", "sub"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the token has expired", code="auth_expired",
                               headers={"WWW-Authenticate": "Bearer"}) from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized("the token's audience is not accepted", code="auth_invalid",
                               headers={"WWW-Authenticate": "Bearer"}) from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise Unauthorized("the token is not valid", code="auth_invalid",
                               headers={"WWW-Authenticate": "Bearer"}) from exc
        sub = str(claims.get("sub", ""))
        if not sub or not _USER_ID.match(sub):
            raise Unauthorized("the token has no usable subject", code="auth_invalid")
        return User(id=sub, claims=claims)


async def current_user(request: Request) -> User:
    """FastAPI dependency: the authenticated caller, bound into the log context."""
    authenticator: Authenticator = request.app.state.authenticator
    user = await authenticator.authenticate(request)
    request.state.user_id = user.id
    bind(userId=user.id)
    return user


CurrentUser = Annotated[User, Depends(current_user)]
