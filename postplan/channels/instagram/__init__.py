"""Instagram Graph API content publishing (Instagram Login flavour)."""

from postplan.channels.instagram.adapter import InstagramAdapter
from postplan.channels.instagram.oauth import InstagramOAuth
from postplan.channels.instagram.spec import SPEC

__all__ = ["SPEC", "InstagramAdapter", "InstagramOAuth"]
