"""TikTok Content Posting API v2."""

from postplan.channels.tiktok.adapter import TikTokAdapter
from postplan.channels.tiktok.oauth import TikTokOAuth
from postplan.channels.tiktok.spec import SPEC

__all__ = ["SPEC", "TikTokAdapter", "TikTokOAuth"]
