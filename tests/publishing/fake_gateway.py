"""Real adapters and OAuth clients pointed at the fake platform, with test-sized poll intervals."""

from __future__ import annotations

import httpx

from postplan.channels import registry
from postplan.channels.base import ChannelAdapter, OAuthClient

CLIENT_KEY = "fake-client-key"
CLIENT_SECRET = "fake-client-secret"


class FakePlatformGateway:
    def __init__(self, http: httpx.AsyncClient, base: str, *, paced: bool = False) -> None:
        # paced: like the worker's gateway in production (`gateway_scope(..., paced=True)`), the
        # adapters keep no per-process rate ledger — the worker's limiter does the pacing.
        fast = {"container_poll_interval": 0.02, "container_poll_max_interval": 0.1}
        local = {"local_rate_limits": not paced}
        self.adapters: dict[str, ChannelAdapter] = {
            "tiktok": registry.get_adapter("tiktok", http=http, api_base=base, **local),
            "instagram": registry.get_adapter("instagram", http=http, api_base=base,
                                              api_version="v25.0", **fast, **local),
        }
        self.oauths: dict[str, OAuthClient] = {
            ch: registry.get_oauth_client(ch, http=http, api_base=base, auth_base=base,
                                          client_id=CLIENT_KEY, client_secret=CLIENT_SECRET,
                                          api_version="v25.0" if ch == "instagram" else None)
            for ch in ("tiktok", "instagram")
        }

    def adapter(self, channel: str) -> ChannelAdapter:
        return self.adapters[channel]

    def oauth(self, channel: str) -> OAuthClient:
        return self.oauths[channel]


def fake_env(base: str) -> dict[str, str]:
    """Settings overrides pointing every channel host at the fake."""
    return {
        "TIKTOK_API_BASE": base, "TIKTOK_AUTH_BASE": base,
        "INSTAGRAM_API_BASE": base, "INSTAGRAM_AUTH_BASE": base,
        "TIKTOK_CLIENT_KEY": CLIENT_KEY, "TIKTOK_CLIENT_SECRET": CLIENT_SECRET,
        "INSTAGRAM_APP_ID": CLIENT_KEY, "INSTAGRAM_APP_SECRET": CLIENT_SECRET,
        "TOKEN_ENCRYPTION_KEY": "fake-encryption-key",
    }
