"""Instagram Graph API content publishing (Instagram Login flavour)."""

from postplan.channels.instagram.adapter import InstagramAdapter
from postplan.channels.instagram.oauth import InstagramOAuth

__all__ = ["InstagramAdapter", "InstagramOAuth"]
