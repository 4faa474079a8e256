"""Channel -> adapter and OAuth client factories: an explicit dict, one line per channel.

Adding a channel is adding its folder (adapter.py, oauth.py, ...) and one `_SPECS` line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from postplan.channels.base import ChannelAdapter, OAuthClient
from postplan.channels.config import ChannelConfig
from postplan.channels.instagram import InstagramAdapter, InstagramOAuth
from postplan.channels.tiktok import TikTokAdapter, TikTokOAuth
from postplan.config import Settings
from postplan.core.vocab import Channel

__all__ = [
    "adapter_from_settings",
    "config_from_settings",
    "get_adapter",
    "get_oauth_client",
    "oauth_client_from_settings",
]

INSTAGRAM_PRODUCTION_API = "https://graph.instagram.com"
INSTAGRAM_PRODUCTION_TOKEN = "https://api.instagram.com"


@dataclass(frozen=True)
class _Spec:
    adapter: Callable[..., ChannelAdapter]
    oauth: Callable[..., OAuthClient]


_SPECS: dict[Channel, _Spec] = {
    Channel.tiktok: _Spec(TikTokAdapter, TikTokOAuth),
    Channel.instagram: _Spec(InstagramAdapter, InstagramOAuth),
}


def _spec(channel: Channel | str) -> _Spec:
    try:
        return _SPECS[Channel(channel)]
    except (KeyError, ValueError):
        raise ValueError(f"no adapter for channel {channel!r}") from None


def get_adapter(
    channel: Channel | str,
    *,
    http: httpx.AsyncClient,
    api_base: str,
    api_version: str | None = None,
    **options: Any,
) -> ChannelAdapter:
    """An adapter for `channel` talking to `api_base` through the shared `http` client.
    `options` are further ChannelConfig fields (timeouts, poll intervals, local_rate_limits)."""
    config = ChannelConfig(api_base=api_base, api_version=api_version, **options)
    return _spec(channel).adapter(http, config)


def get_oauth_client(
    channel: Channel | str,
    *,
    http: httpx.AsyncClient,
    api_base: str,
    auth_base: str,
    client_id: str | None,
    client_secret: str | None,
    api_version: str | None = None,
    **options: Any,
) -> OAuthClient:
    """An OAuth client for `channel` (authorize URL, code exchange, refresh)."""
    config = ChannelConfig(api_base=api_base, auth_base=auth_base, api_version=api_version,
                           client_id=client_id, client_secret=client_secret, **options)
    return _spec(channel).oauth(http, config)


def config_from_settings(channel: Channel | str, settings: Settings) -> ChannelConfig:
    """The ChannelConfig the process settings describe for `channel`."""
    ch = Channel(channel)
    if ch is Channel.tiktok:
        secret = settings.tiktok_client_secret
        return ChannelConfig(
            api_base=settings.tiktok_api_base, auth_base=settings.tiktok_auth_base,
            client_id=settings.tiktok_client_key,
            client_secret=secret.get_secret_value() if secret else None,
        )
    secret = settings.instagram_app_secret
    api_base = settings.instagram_api_base
    # Production exchanges codes on api.instagram.com; a test/fake host serves both.
    token_base = (INSTAGRAM_PRODUCTION_TOKEN if api_base == INSTAGRAM_PRODUCTION_API
                  else api_base)
    return ChannelConfig(
        api_base=api_base, auth_base=settings.instagram_auth_base, token_base=token_base,
        api_version=settings.instagram_api_version, client_id=settings.instagram_app_id,
        client_secret=secret.get_secret_value() if secret else None,
    )


def adapter_from_settings(
    channel: Channel | str, settings: Settings, http: httpx.AsyncClient
) -> ChannelAdapter:
    """The adapter for `channel` as the process settings configure it."""
    return _spec(channel).adapter(http, config_from_settings(channel, settings))


def oauth_client_from_settings(
    channel: Channel | str, settings: Settings, http: httpx.AsyncClient
) -> OAuthClient:
    """The OAuth client for `channel` as the process settings configure it."""
    return _spec(channel).oauth(http, config_from_settings(channel, settings))
