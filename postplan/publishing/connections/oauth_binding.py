"""Binding an OAuth login to the browser that started it (RFC 9700 §4.7, RFC 6749 §10.12).

The `state` names the user who started a login, but anyone can hand the authorize link to someone
else: a victim who completes an attacker's link would connect the victim's channel account to the
attacker. So `start` also sets a cookie in the starting browser holding a random nonce, and stores
only the nonce's sha256 with the state; the callback (a top-level redirect from the platform, which
carries the cookie) is refused unless the cookie's nonce matches the state's binding.

The cookie: HttpOnly (scripts never read it), `Secure` when `OAUTH_REDIRECT_BASE` is https,
`SameSite=Lax` (sent on the platform's top-level GET redirect, never on cross-site subrequests),
`Path` the channel's `…/oauth` prefix under the redirect base (only `start` and `callback` see
it), living as long as a state does. A browser keeps one nonce per channel and `start` reuses it,
so two logins started in two tabs of the same browser both finish.

For the cookie to come back, `start` must be requested by the browser that will follow the
authorize URL, on the host of `OAUTH_REDIRECT_BASE`: a same-origin `fetch()` (cookies are stored
by default) or a top-level navigation to `start?redirect=true`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from postplan.config import Settings
from postplan.core.logging import get_logger

log = get_logger(__name__)

COOKIE = "postplan_oauth_binding"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)


def cookie_path(settings: Settings, channel: str) -> str:
    """The browser-visible path prefix of `start` and `callback` for this channel."""
    prefix = urlsplit(settings.oauth_redirect_base).path.rstrip("/")
    return f"{prefix}/v1/channels/{channel}/oauth"


def binding_hash(nonce: str) -> str:
    """What is stored with the state: the nonce itself stays in the browser."""
    return hashlib.sha256(nonce.encode("ascii")).hexdigest()


def held_nonce(request: Request) -> str | None:
    """The nonce this browser's cookie holds, if it holds a well-formed one."""
    held = request.cookies.get(COOKIE, "")
    return held if _NONCE.match(held) else None


def nonce_for(request: Request) -> str:
    """The browser's nonce: the one its cookie already holds, or a new random one."""
    return held_nonce(request) or secrets.token_urlsafe(32)


def set_cookie(response: Response, request: Request, settings: Settings, channel: str,
               nonce: str, max_age: int) -> None:
    """Give the starting browser its nonce (see the module docstring for each attribute)."""
    base = urlsplit(settings.oauth_redirect_base)
    response.set_cookie(COOKIE, nonce, max_age=max_age, path=cookie_path(settings, channel),
                        secure=base.scheme == "https", httponly=True, samesite="lax")
    if request.url.hostname and base.hostname and request.url.hostname != base.hostname:
        # The cookie lands on the host the browser asked; the platform sends it back to the
        # redirect base. Different hosts: every callback would be refused as started elsewhere.
        log.warning("channel.oauth_cookie_host_mismatch", channel=channel,
                    requestHost=request.url.hostname, redirectHost=base.hostname)


def verify(nonce: str | None, stored_hash: str | None) -> bool:
    """True when the callback's browser holds the nonce the state was bound to."""
    if nonce is None or stored_hash is None:
        return False
    return hmac.compare_digest(binding_hash(nonce), stored_hash)
