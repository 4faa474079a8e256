"""TikTok Login Kit v2: authorize URL on TIKTOK_AUTH_BASE, code exchange and refresh on
`{TIKTOK_API_BASE}/v2/oauth/token/` (form-encoded, flat JSON, errors as `{"error": ...}` even with
HTTP 200). Every refresh may rotate the refresh token: callers must store the newest one.

A transient failure (5xx, network) is RetryLater, never AuthError, so a blip does not disconnect
the user; only `invalid_grant` and friends mean the tokens are dead.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

from postplan.channels.backoff import backoff_delay
from postplan.channels.base import AuthError, PermanentError, RetryLater, TokenSet
from postplan.channels.config import ChannelConfig
from postplan.channels.transport import send, timeout_for
from postplan.core.vocab import Channel

__all__ = ["DEFAULT_SCOPES", "TikTokOAuth"]

DEFAULT_SCOPES = ("user.info.basic", "video.publish", "video.upload")
_DEAD_GRANT = {"invalid_grant", "access_denied"}


class TikTokOAuth:
    """OAuthClient for TikTok."""

    channel = Channel.tiktok

    def __init__(
        self, http: httpx.AsyncClient, config: ChannelConfig,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
    ) -> None:
        self.http = http
        self.config = config
        self.scopes = scopes
        self._timeout = timeout_for(config.timeout, config.connect_timeout)

    def authorize_url(
        self, state: str, redirect_uri: str, code_challenge: str | None = None
    ) -> str:
        """The Login Kit consent page (TikTok names the client id `client_key`)."""
        params = {
            "client_key": self.config.client_id or "",
            "scope": ",".join(self.scopes),
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "state": state,
        }
        if code_challenge:
            params["code_challenge"] = code_challenge
            params["code_challenge_method"] = "S256"
        return f"{self.config.auth_base}/v2/auth/authorize/?{urlencode(params)}"

    async def exchange_code(
        self, code: str, redirect_uri: str, code_verifier: str | None = None
    ) -> TokenSet:
        """authorization_code grant."""
        form = {"code": code, "grant_type": "authorization_code", "redirect_uri": redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        return await self._token(form, step="oauth_exchange")

    async def refresh(self, refresh_token: str) -> TokenSet:
        """refresh_token grant; the answer carries a new refresh token (rotation)."""
        return await self._token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, step="oauth_refresh"
        )

    async def _token(self, form: dict[str, str], *, step: str) -> TokenSet:
        if not (self.config.client_id and self.config.client_secret):
            raise PermanentError("tiktok_not_configured",
                                 "TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET are not set.")
        body = {"client_key": self.config.client_id,
                "client_secret": self.config.client_secret, **form}
        response = await send(
            self.http, "POST", self.config.api_base + "/v2/oauth/token/", prefix="tiktok",
            step=step, irreversible=False, limits=self._timeout, data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryLater("tiktok_oauth_unavailable",
                             f"TikTok's token endpoint answered HTTP {response.status_code}.",
                             retry_after=backoff_delay(1), http_status=response.status_code)
        if not isinstance(payload, dict):
            raise RetryLater("tiktok_oauth_bad_response",
                             "TikTok's token endpoint answered without JSON.",
                             retry_after=backoff_delay(1), http_status=response.status_code)
        error = payload.get("error")
        if isinstance(error, dict):  # the v2 envelope shape, seen on some deployments
            error = error.get("code") if error.get("code") != "ok" else None
        if error:
            description = str(payload.get("error_description") or error)
            kw: dict[str, Any] = {"platform_code": str(error),
                                  "http_status": response.status_code}
            if error in _DEAD_GRANT:
                raise AuthError("tiktok_auth_invalid",
                                f"TikTok refused the grant: {description}", **kw)
            raise PermanentError("tiktok_oauth_error",
                                 f"TikTok's token endpoint refused: {description}", **kw)
        if not payload.get("access_token") or not payload.get("open_id"):
            raise PermanentError("tiktok_oauth_bad_response",
                                 "TikTok's token answer has no access_token/open_id.",
                                 http_status=response.status_code)
        scope = payload.get("scope")
        return TokenSet(
            access_token=str(payload["access_token"]),
            refresh_token=payload.get("refresh_token"),
            expires_in=_int(payload.get("expires_in")),
            refresh_expires_in=_int(payload.get("refresh_expires_in")),
            account_id=str(payload["open_id"]),
            scopes=[s for s in str(scope).split(",") if s] if scope else None,
        )


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
