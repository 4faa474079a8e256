"""TikTok's registry entry."""

from __future__ import annotations

from postplan.channels.config import ChannelConfig
from postplan.channels.spec import ChannelSpec
from postplan.channels.tiktok.adapter import TikTokAdapter
from postplan.channels.tiktok.oauth import TikTokOAuth
from postplan.config import Settings
from postplan.core.vocab import Channel

__all__ = ["SPEC", "config_from_settings"]


def config_from_settings(settings: Settings) -> ChannelConfig:
    """TIKTOK_API_BASE / TIKTOK_AUTH_BASE / TIKTOK_CLIENT_KEY / TIKTOK_CLIENT_SECRET."""
    secret = settings.tiktok_client_secret
    return ChannelConfig(
        api_base=settings.tiktok_api_base, auth_base=settings.tiktok_auth_base,
        client_id=settings.tiktok_client_key,
        client_secret=secret.get_secret_value() if secret else None,
    )


SPEC = ChannelSpec(Channel.tiktok, TikTokAdapter, TikTokOAuth, config_from_settings)
