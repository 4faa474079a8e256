"""Adapter and OAuth factories: one explicit dict line per channel."""

from __future__ import annotations

import httpx
import pytest

from postplan.channels import (
    adapter_from_settings,
    config_from_settings,
    get_adapter,
    oauth_client_from_settings,
)
from postplan.channels.instagram import InstagramAdapter, InstagramOAuth
from postplan.channels.registry import _PACKAGES, spec
from postplan.channels.tiktok import TikTokAdapter, TikTokOAuth
from postplan.config import Settings
from postplan.core.vocab import Channel


def settings(**env: str) -> Settings:
    values: dict[str, object] = {"_env_file": None, **env}
    return Settings(**values)  # type: ignore[arg-type]


def test_every_channel_has_an_adapter() -> None:
    assert set(_PACKAGES) == set(Channel)
    for channel in Channel:
        assert spec(channel).channel is channel
        assert spec(channel.value) is spec(channel)


async def test_get_adapter() -> None:
    async with httpx.AsyncClient() as http:
        a = get_adapter("tiktok", http=http, api_base="http://127.0.0.1:1/")
        assert isinstance(a, TikTokAdapter) and a.channel is Channel.tiktok
        assert a.config.api_base == "http://127.0.0.1:1"
        b = get_adapter(Channel.instagram, http=http, api_base="http://x", api_version="v24.0")
        assert isinstance(b, InstagramAdapter)
        assert b.channel is Channel.instagram
        with pytest.raises(ValueError, match="no adapter"):
            get_adapter("myspace", http=http, api_base="http://x")


async def test_from_settings_uses_the_configured_hosts() -> None:
    s = settings(TIKTOK_API_BASE="http://127.0.0.1:5555", TIKTOK_CLIENT_KEY="ck",
                 TIKTOK_CLIENT_SECRET="cs", INSTAGRAM_API_BASE="http://127.0.0.1:5555",
                 INSTAGRAM_API_VERSION="v23.0")
    tt = config_from_settings("tiktok", s)
    assert (tt.api_base, tt.client_id, tt.client_secret) == ("http://127.0.0.1:5555", "ck", "cs")
    assert "cs" not in repr(tt)
    ig = config_from_settings("instagram", s)
    assert ig.token_base == "http://127.0.0.1:5555" and ig.api_version == "v23.0"
    prod = config_from_settings("instagram", settings())
    assert prod.api_base == "https://graph.instagram.com"
    assert prod.token_base == "https://api.instagram.com"
    async with httpx.AsyncClient() as http:
        assert isinstance(adapter_from_settings("tiktok", s, http), TikTokAdapter)
        assert isinstance(oauth_client_from_settings("tiktok", s, http), TikTokOAuth)
        assert isinstance(oauth_client_from_settings("instagram", s, http), InstagramOAuth)
