"""Instagram's registry entry."""

from __future__ import annotations

from postplan.channels.config import ChannelConfig
from postplan.channels.instagram.adapter import InstagramAdapter
from postplan.channels.instagram.oauth import InstagramOAuth
from postplan.channels.spec import ChannelSpec
from postplan.config import Settings
from postplan.core.vocab import Channel

__all__ = ["PRODUCTION_API", "PRODUCTION_TOKEN", "SPEC", "config_from_settings"]

PRODUCTION_API = "https://graph.instagram.com"
PRODUCTION_TOKEN = "https://api.instagram.com"


def config_from_settings(settings: Settings) -> ChannelConfig:
    """INSTAGRAM_API_BASE / _AUTH_BASE / _API_VERSION / INSTAGRAM_APP_ID / _APP_SECRET.

    Production exchanges codes on api.instagram.com; any other API host (a fake, a proxy)
    serves the code exchange too, so tests need only INSTAGRAM_API_BASE."""
    secret = settings.instagram_app_secret
    api_base = settings.instagram_api_base
    return ChannelConfig(
        api_base=api_base, auth_base=settings.instagram_auth_base,
        token_base=PRODUCTION_TOKEN if api_base == PRODUCTION_API else api_base,
        api_version=settings.instagram_api_version, client_id=settings.instagram_app_id,
        client_secret=secret.get_secret_value() if secret else None,
    )


SPEC = ChannelSpec(Channel.instagram, InstagramAdapter, InstagramOAuth, config_from_settings)
