"""The adapters' local ledger of per-token limits (TikTok: 6 inits/min, 20 creator_info/min).

The sliding windows are `core.ratelimit.RateLedger`; here is how a token becomes a key: a hash,
never the token.
"""

from __future__ import annotations

import hashlib

from postplan.core.ratelimit import RateLedger

__all__ = ["RateLedger", "token_key"]


def token_key(token: str) -> str:
    """A stable, non-reversible key for a token."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]
