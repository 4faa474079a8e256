"""TikTok Content Posting API v2."""

from postplan.channels.tiktok.adapter import TikTokAdapter
from postplan.channels.tiktok.oauth import TikTokOAuth

__all__ = ["TikTokAdapter", "TikTokOAuth"]
