"""Where the publishing domain gets channel adapters and OAuth clients.

The default gateway wraps `postplan.channels.registry`; tests install their own through
`app.state.channel_gateway`; handlers take it as a `Gateway` parameter. Nothing here opens a
connection: the shared HTTP client only connects when an adapter makes a live call, so dry-runs
never touch the network.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Annotated, Protocol

import httpx
from fastapi import Depends, Request

from postplan.channels import registry
from postplan.channels.base import ChannelAdapter, OAuthClient
from postplan.config import Settings
from postplan.core.vocab import Channel


class ChannelGateway(Protocol):
    """Adapters and OAuth clients, one per channel."""

    def adapter(self, channel: str) -> ChannelAdapter:
        """The adapter for `channel`."""
        ...

    def oauth(self, channel: str) -> OAuthClient:
        """The OAuth client for `channel`."""
        ...


class RegistryGateway:
    """The production gateway: real adapters pointed at the configured API hosts."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None, *,
                 paced: bool = False) -> None:
        self.settings = settings
        # paced: the caller (the worker) paces publish calls in the database for the whole
        # cluster, so the adapters' per-process ledger would only double-count.
        self.paced = paced
        self._http = http
        self._adapters: dict[str, ChannelAdapter] = {}
        self._oauth: dict[str, OAuthClient] = {}

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            # Connect short, read long: a publish call may take a while to answer.
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(30.0, connect=5.0),
                limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
            )
        return self._http

    def adapter(self, channel: str) -> ChannelAdapter:
        if channel not in self._adapters:
            config = registry.config_from_settings(Channel(channel), self.settings)
            if self.paced:
                config = replace(config, local_rate_limits=False)
            self._adapters[channel] = registry.spec(channel).adapter(self.http, config)
        return self._adapters[channel]

    def oauth(self, channel: str) -> OAuthClient:
        if channel not in self._oauth:
            self._oauth[channel] = registry.oauth_client_from_settings(
                Channel(channel), self.settings, self.http)
        return self._oauth[channel]

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def app_gateway(request: Request) -> ChannelGateway:
    """The app's channel gateway (installed by the publishing lifespan hook or a test)."""
    gateway: ChannelGateway = request.app.state.channel_gateway
    return gateway


#: The channel gateway as a handler parameter.
Gateway = Annotated[ChannelGateway, Depends(app_gateway)]


@asynccontextmanager
async def gateway_scope(settings: Settings, *,
                        paced: bool = False) -> AsyncIterator[RegistryGateway]:
    """A registry gateway closed when the block ends (`paced`: see `RegistryGateway`)."""
    gateway = RegistryGateway(settings, paced=paced)
    try:
        yield gateway
    finally:
        await gateway.aclose()
