"""Business Login for Instagram: authorize on INSTAGRAM_AUTH_BASE, code -> short-lived token
(`POST {token_base}/oauth/access_token`, form), short -> long-lived (60 days,
`GET {INSTAGRAM_API_BASE}/access_token?grant_type=ig_exchange_token`), and refresh
(`GET /refresh_access_token?grant_type=ig_refresh_token`, token at least 24 h old).

There is no refresh token: the long-lived access token refreshes itself. These endpoints take the
token in the query string as documented, so nothing here ever logs or quotes a URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

from postplan.channels.backoff import backoff_delay
from postplan.channels.base import AuthError, PermanentError, RetryLater, TokenSet
from postplan.channels.config import ChannelConfig
from postplan.channels.instagram.errors import parse_error
from postplan.channels.transport import send, timeout_for
from postplan.core.vocab import Channel

__all__ = ["DEFAULT_SCOPES", "InstagramOAuth"]

DEFAULT_SCOPES = ("instagram_business_basic", "instagram_business_content_publish")


class InstagramOAuth:
    """OAuthClient for Instagram (Instagram Login flavour, graph.instagram.com)."""

    channel = Channel.instagram

    def __init__(
        self, http: httpx.AsyncClient, config: ChannelConfig,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
    ) -> None:
        self.http = http
        self.config = config
        self.scopes = scopes
        self.version = config.api_version or "v25.0"
        self._timeout = timeout_for(config.timeout, config.connect_timeout)

    def authorize_url(
        self, state: str, redirect_uri: str, code_challenge: str | None = None
    ) -> str:
        """The consent page. Instagram Login has no PKCE; `code_challenge` is ignored."""
        params = {
            "client_id": self.config.client_id or "",
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": ",".join(self.scopes),
            "state": state,
        }
        return f"{self.config.auth_base}/oauth/authorize?{urlencode(params)}"

    def _require_app(self) -> tuple[str, str]:
        if not (self.config.client_id and self.config.client_secret):
            raise PermanentError("instagram_not_configured",
                                 "INSTAGRAM_APP_ID and INSTAGRAM_APP_SECRET are not set.")
        return self.config.client_id, self.config.client_secret

    async def exchange_code(
        self, code: str, redirect_uri: str, code_verifier: str | None = None
    ) -> TokenSet:
        """Code -> short-lived token -> long-lived token (what gets stored)."""
        client_id, secret = self._require_app()
        short = await self._json(
            "POST", self.config.token_base + "/oauth/access_token", step="oauth_exchange",
            data={"client_id": client_id, "client_secret": secret,
                  "grant_type": "authorization_code", "redirect_uri": redirect_uri,
                  "code": code.removesuffix("#_")},
        )
        # The docs nest the answer in data[]; clients in the wild read it flat. Accept both.
        rows = short.get("data")
        row: dict[str, Any] = rows[0] if isinstance(rows, list) and rows else short
        if not row.get("access_token") or not row.get("user_id"):
            raise PermanentError("instagram_oauth_bad_response",
                                 "Instagram's code exchange returned no token or user id.")
        permissions = row.get("permissions")
        scopes = (permissions.split(",") if isinstance(permissions, str)
                  else [str(p) for p in permissions] if isinstance(permissions, list) else None)
        long = await self._json(
            "GET", self.config.api_base + "/access_token", step="oauth_long_lived",
            params={"grant_type": "ig_exchange_token", "client_secret": secret,
                    "access_token": str(row["access_token"])},
        )
        return self._token_set(long, account_id=str(row["user_id"]), scopes=scopes)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Refresh the long-lived token (pass it as `refresh_token`); then read the user id."""
        body = await self._json(
            "GET", self.config.api_base + "/refresh_access_token", step="oauth_refresh",
            params={"grant_type": "ig_refresh_token", "access_token": refresh_token},
        )
        token = str(body.get("access_token") or "")
        me = await self._json(
            "GET", f"{self.config.api_base}/{self.version}/me", step="oauth_me",
            params={"fields": "user_id,username"},
            headers={"Authorization": f"Bearer {token}"},
        )
        return self._token_set(body, account_id=str(me.get("user_id") or me.get("id") or ""),
                               scopes=None)

    @staticmethod
    def _token_set(body: dict[str, Any], *, account_id: str, scopes: list[str] | None) -> TokenSet:
        if not body.get("access_token"):
            raise PermanentError("instagram_oauth_bad_response",
                                 "Instagram's token answer has no access_token.")
        expires = body.get("expires_in")
        return TokenSet(access_token=str(body["access_token"]), refresh_token=None,
                        expires_in=int(expires) if expires is not None else None,
                        account_id=account_id, scopes=scopes)

    async def _json(self, method: str, url: str, *, step: str, **kw: Any) -> dict[str, Any]:
        response = await send(self.http, method, url, prefix="instagram", step=step,
                              irreversible=False, limits=self._timeout, **kw)
        status = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        graph = parse_error(response)
        if graph is not None:
            kwargs: dict[str, Any] = {"platform_code": graph.platform_code, "http_status": status}
            if graph.code in (190, 102) or graph.code == 10 or (graph.code or 0) in range(200, 300):
                raise AuthError("instagram_auth_invalid",
                                f"Instagram refused the token: {graph.human()}", **kwargs)
            if status >= 500 or graph.is_transient or graph.code in (1, 2, 4, 17, 613):
                raise RetryLater("instagram_oauth_unavailable", graph.human(),
                                 retry_after=backoff_delay(1), **kwargs)
            raise PermanentError("instagram_oauth_error", graph.human(), **kwargs)
        if status >= 500 or status == 429:
            raise RetryLater("instagram_oauth_unavailable",
                             f"Instagram's token endpoint answered HTTP {status}.",
                             retry_after=backoff_delay(1), http_status=status)
        if isinstance(body, dict) and body.get("error_type"):
            # Legacy api.instagram.com shape: {"error_type", "code", "error_message"}.
            raise AuthError("instagram_auth_invalid",
                            f"Instagram refused the code: {body.get('error_message') or ''}",
                            platform_code=str(body.get("error_type")), http_status=status)
        if status >= 400 or not isinstance(body, dict):
            raise PermanentError("instagram_oauth_error",
                                 f"Instagram's token endpoint answered HTTP {status}.",
                                 http_status=status)
        return body
