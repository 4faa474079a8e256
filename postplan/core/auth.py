"""Who is calling: dev mode (`X-User-Id`) or a verified Supabase JWT (docs/contract.md §2)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from postplan.config import AuthMode, Settings
from postplan.core.context import bind
from postplan.core.errors import ServiceUnavailable, Unauthorized
from postplan.core.peer import browser_reason, not_local_reason

#: What a user id may look like (dev `X-User-Id` and a JWT's `sub`); the OpenAPI shows it.
USER_ID_PATTERN = r"^[A-Za-z0-9_.@:-]{1,128}$"
_USER_ID = re.compile(USER_ID_PATTERN)

#: Signature algorithms a Supabase project issues; anything else in `alg` is refused unread.
_ALGORITHMS = frozenset({"HS256", "ES256", "RS256"})
#: Header members that must be short strings when present (a list or object `kid` used to reach
#: the JWKS key cache unhashed and answer 500).
_STRING_HEADERS = ("alg", "kid", "typ", "cty")
_MAX_HEADER_VALUE = 256
#: A Supabase access token is about 1 KB; anything far larger is not one (and is not parsed).
MAX_TOKEN_LENGTH = 16_384


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
        reason = (not_local_reason(request.scope, request.headers,
                                   self.settings.dev_auth_trusted_networks)
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
        if len(token) > MAX_TOKEN_LENGTH:
            raise Unauthorized("the token is not valid", code="auth_invalid",
                               headers={"WWW-Authenticate": "Bearer"})
        try:
            alg = _checked_header(token)
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
        except Unauthorized as exc:
            exc.headers.setdefault("WWW-Authenticate", "Bearer")
            raise
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the token has expired", code="auth_expired",
                               headers={"WWW-Authenticate": "Bearer"}) from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized("the token's audience is not accepted", code="auth_invalid",
                               headers={"WWW-Authenticate": "Bearer"}) from exc
        except jwt.PyJWKClientConnectionError as exc:
            # The key server is away: not the caller's fault, and worth retrying.
            raise AuthUnavailable("the token keys cannot be fetched right now",
                                  headers={"Retry-After": "5"}) from exc
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError) as exc:
            # Everything in a token is the caller's input: any failure to read it is a 401.
            raise Unauthorized("the token is not valid", code="auth_invalid",
                               headers={"WWW-Authenticate": "Bearer"}) from exc
        sub = str(claims.get("sub", ""))
        if not sub or not _USER_ID.match(sub):
            raise Unauthorized("the token has no usable subject", code="auth_invalid")
        return User(id=sub, claims=claims)


class AuthUnavailable(ServiceUnavailable):
    code = "auth_unavailable"
    title = "Authentication unavailable"


def _checked_header(token: str) -> str:
    """The token's `alg`, once its header is a JSON object whose members postplan (and PyJWT's
    key lookup) read are short strings; otherwise an `auth_invalid` 401."""
    header = jwt.get_unverified_header(token)
    for name in _STRING_HEADERS:
        value = header.get(name)
        if name in header and (not isinstance(value, str) or len(value) > _MAX_HEADER_VALUE):
            raise Unauthorized(f"the token header's {name!r} must be a short string",
                               code="auth_invalid")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in _ALGORITHMS:
        raise Unauthorized("the token's algorithm is not accepted", code="auth_invalid")
    return alg


#: How callers authenticate, as FastAPI security schemes: they read nothing themselves
#: (`auto_error=False`), but every operation that depends on `current_user` is marked in the
#: OpenAPI document, which keeps the scheme of the configured mode (core/openapi.py).
DEV_SCHEME = APIKeyHeader(name="X-User-Id", scheme_name="devUser", auto_error=False,
                          description="AUTH_MODE=dev: who is calling (from this machine only)")
BEARER_SCHEME = HTTPBearer(scheme_name="bearerAuth", bearerFormat="JWT", auto_error=False,
                           description="AUTH_MODE=supabase: a Supabase access token")


async def current_user(
    request: Request,
    _dev: Annotated[str | None, Depends(DEV_SCHEME)] = None,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER_SCHEME)] = None,
) -> User:
    """FastAPI dependency: the authenticated caller, bound into the log context."""
    authenticator: Authenticator = request.app.state.authenticator
    user = await authenticator.authenticate(request)
    request.state.user_id = user.id
    bind(userId=user.id)
    return user


CurrentUser = Annotated[User, Depends(current_user)]
