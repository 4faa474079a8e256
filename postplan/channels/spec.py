"""What a channel package hands the registry: its adapter, OAuth client and settings mapping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from postplan.channels.base import ChannelAdapter, OAuthClient
from postplan.channels.config import ChannelConfig
from postplan.config import Settings
from postplan.core.vocab import Channel

__all__ = ["ChannelSpec"]


@dataclass(frozen=True)
class ChannelSpec:
    """Each channel package exports one as `SPEC`."""

    channel: Channel
    adapter: Callable[[httpx.AsyncClient, ChannelConfig], ChannelAdapter]
    oauth: Callable[[httpx.AsyncClient, ChannelConfig], OAuthClient]
    config_from_settings: Callable[[Settings], ChannelConfig]
