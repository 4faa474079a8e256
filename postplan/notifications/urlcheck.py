"""Where a webhook may point: https (plain http only to loopback in dev mode), never a private,
link-local, loopback (outside dev), multicast, reserved or unspecified address — checked on the
addresses the host resolves to, at creation and again before every delivery (a name that later
resolves somewhere private is refused then too)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from postplan.core.errors import Unprocessable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Seconds a webhook host may take to resolve (a hanging resolver is a refusal, not a wait).
RESOLVE_TIMEOUT = 3.0


class WebhookUrlForbidden(Unprocessable):
    code = "webhook_url_forbidden"
    title = "Webhook URL not allowed"


def _forbidden(addr: Address, *, dev: bool) -> str | None:
    """Why a delivery must not go to `addr` (None: it may)."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return _forbidden(addr.ipv4_mapped, dev=dev)
    if addr.is_loopback:
        return None if dev else "a loopback address"
    if addr.is_link_local:
        return "a link-local address"
    if not addr.is_global or addr.is_multicast:
        # Private, shared (CGNAT), reserved, documentation, unspecified: never the internet.
        return "a private or reserved address"
    return None


async def resolve(host: str) -> list[Address]:
    """The addresses `host` names (an IP literal is itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, None, type=socket.SOCK_STREAM),
                                       RESOLVE_TIMEOUT)
    except (OSError, UnicodeError, TimeoutError) as exc:
        raise WebhookUrlForbidden(f"the webhook host {host!r} does not resolve",
                                  extra={"reason": "unresolvable"}) from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def check_url(url: str, *, dev: bool) -> None:
    """Raise `WebhookUrlForbidden` (422) unless `url` is a place a webhook may be sent."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        raise WebhookUrlForbidden("a webhook URL must be an absolute https URL",
                                  extra={"reason": "scheme"})
    if parts.username or parts.password:
        raise WebhookUrlForbidden("a webhook URL must not carry credentials",
                                  extra={"reason": "credentials"})
    addresses = await resolve(host)
    if not addresses:
        raise WebhookUrlForbidden(f"the webhook host {host!r} does not resolve",
                                  extra={"reason": "unresolvable"})
    for addr in addresses:
        why = _forbidden(addr, dev=dev)
        if why is not None:
            raise WebhookUrlForbidden(f"the webhook host resolves to {why} ({addr})",
                                      extra={"reason": "address"})
    if parts.scheme == "http" and not (dev and all(a.is_loopback for a in addresses)):
        raise WebhookUrlForbidden("a webhook URL must use https (plain http only to loopback "
                                  "in dev mode)", extra={"reason": "scheme"})
