"""Channel -> adapter and OAuth client factories.

Adding a channel is adding its folder (adapter.py, oauth.py, spec.py exporting `SPEC`) and one
`_PACKAGES` line. Packages are imported on first use, so an unused channel costs nothing.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

import httpx

from postplan.channels.base import ChannelAdapter, OAuthClient
from postplan.channels.config import ChannelConfig
from postplan.channels.spec import ChannelSpec
from postplan.config import Settings
from postplan.core.vocab import Channel

__all__ = [
    "adapter_from_settings",
    "config_from_settings",
    "get_adapter",
    "get_oauth_client",
    "oauth_client_from_settings",
    "spec",
]

_PACKAGES: dict[Channel, str] = {
    Channel.tiktok: "postplan.channels.tiktok",
    Channel.instagram: "postplan.channels.instagram",
}


@cache
def spec(channel: Channel | str) -> ChannelSpec:
    """The registry entry for `channel`; ValueError for a channel nobody implemented."""
    try:
        package = _PACKAGES[Channel(channel)]
    except (KeyError, ValueError):
        raise ValueError(f"no adapter for channel {channel!r}") from None
    found = getattr(importlib.import_module(package), "SPEC", None)
    if not isinstance(found, ChannelSpec) or found.channel != Channel(channel):
        raise TypeError(f"{package}.SPEC is not the ChannelSpec of {channel}")
    return found


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
    return spec(channel).adapter(http, config)


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
    return spec(channel).oauth(http, config)


def config_from_settings(channel: Channel | str, settings: Settings) -> ChannelConfig:
    """The ChannelConfig the process settings describe for `channel`."""
    return spec(channel).config_from_settings(settings)


def adapter_from_settings(
    channel: Channel | str, settings: Settings, http: httpx.AsyncClient
) -> ChannelAdapter:
    """The adapter for `channel` as the process settings configure it."""
    return spec(channel).adapter(http, config_from_settings(channel, settings))


def oauth_client_from_settings(
    channel: Channel | str, settings: Settings, http: httpx.AsyncClient
) -> OAuthClient:
    """The OAuth client for `channel` as the process settings configure it."""
    return spec(channel).oauth(http, config_from_settings(channel, settings))
