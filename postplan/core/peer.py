"""Whether a request provably comes from this machine (what `AUTH_MODE=dev` requires).

Dev auth trusts `X-User-Id`, so it may only answer a client that is on this machine. The app
decides from what the transport itself reports, never from what the request claims:

- **Relayed requests are refused.** A request carrying any forwarding header (`Forwarded`,
  `X-Forwarded-*`, `X-Real-IP`, `Via`, the vendor client-address headers) went through a proxy
  and so came from somewhere else, whatever address it claims. This also covers the case where
  the server rewrote `scope["client"]` from those headers (uvicorn's `--proxy-headers`,
  `--forwarded-allow-ips`): the rewriting leaves the headers in place, so a rewritten client is
  never trusted. (A proxy that relays without adding any such header cannot be told apart from a
  local client; `postplan serve` refuses non-loopback binds and the README says never to put dev
  mode behind a proxy.)
- **TCP**: the peer address must be a loopback IP (127.0.0.0/8, ::1, or ::ffff:127.x).
- **Unix socket** (`scope["client"]` is None, `scope["server"]` is `(path, None)`): any peer is a
  local process, but the usual reason to serve on a socket is a reverse proxy in front of it.
  The socket must be owner-only (mode 0600-like, owned by this process's user): Linux then only
  lets this user (or root) connect, so the peer is this user's own process. uvicorn's own
  `--uds` makes the socket 0666 and is refused; `postplan serve --uds` creates it 0600.
- Anything else (no client and no socket path) is unknown and refused.
- **Trusted networks** (`DEV_AUTH_TRUSTED_NETWORKS`, empty by default): a TCP peer inside one of
  these networks is accepted too. It exists for a container on a bridge network, where the
  host's own requests arrive from the bridge gateway; it is an explicit operator setting,
  logged at start, and relayed requests are still refused (docs/deploy.md).
"""

from __future__ import annotations

import ipaddress
import os
import stat
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from postplan.config import is_loopback

#: Headers a proxy adds when it relays a request for someone else: RFC 7239 `Forwarded`, the
#: de-facto `X-Forwarded-*` family, `Via` (RFC 9110 §7.6.3) and the CDN/vendor client-IP headers.
FORWARDING_HEADERS = frozenset({
    "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port",
    "x-forwarded-prefix", "x-forwarded-server", "x-original-forwarded-for", "x-real-ip",
    "x-client-ip", "x-cluster-client-ip", "true-client-ip", "cf-connecting-ip",
    "fastly-client-ip", "client-ip", "forwarded-for", "via",
})


def is_loopback_ip(host: str) -> bool:
    """True only for an IP literal on the loopback network (a name is not proof of anything)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return is_loopback(host)


def is_owner_only_socket(path: str) -> bool:
    """True when `path` is a Unix socket owned by this process's user that nobody else may open
    (no group or other permission bits: connecting needs write permission on Linux)."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):  # gone, or an abstract-namespace name (no permissions at all)
        return False
    return (stat.S_ISSOCK(info.st_mode) and info.st_uid == os.geteuid()
            and info.st_mode & 0o077 == 0)


def forwarding_header(headers: Mapping[str, str]) -> str | None:
    """The first forwarding header present, by name (None when the request was not relayed)."""
    for name in headers:
        if name.lower() in FORWARDING_HEADERS:
            return name.lower()
    return None


TrustedNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def in_networks(host: str, networks: Iterable[TrustedNetwork]) -> bool:
    """True when `host` is an IP literal inside one of `networks`."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


def not_local_reason(scope: Mapping[str, Any], headers: Mapping[str, str],
                     trusted: Iterable[TrustedNetwork] = ()) -> str | None:
    """Why this request cannot be proven to come from this machine (or from a network the
    operator listed in `trusted`), or None when it can."""
    relayed = forwarding_header(headers)
    if relayed is not None:
        return f"this request was relayed by a proxy ({relayed} header)"
    client = scope.get("client")
    if client:
        host = str(client[0])
        if is_loopback_ip(host) or in_networks(host, trusted):
            return None
        return ("this request did not come from a loopback address (or a network listed in "
                "DEV_AUTH_TRUSTED_NETWORKS)")
    server = scope.get("server")
    if server and isinstance(server[0], str) and (len(server) < 2 or server[1] is None):
        if is_owner_only_socket(server[0]):
            return None
        return ("this Unix socket may be opened by other users; serve with `postplan serve --uds` "
                "(which creates it owner-only) or make it mode 0600")
    return "the server does not report where this request came from"


def _host_name(authority: str) -> str:
    """The host of a `Host` header value or an origin's authority, without port or brackets."""
    try:
        host = urlsplit(f"//{authority}").hostname
    except ValueError:
        return ""
    return (host or "").lower()


def is_local_name(host: str) -> bool:
    """A host name only this machine answers to: a loopback IP literal, `localhost` or a name
    under `.localhost` (RFC 6761 reserves it for loopback)."""
    return (is_loopback_ip(host) or host in {"localhost", "localhost.localdomain"}
            or host.endswith(".localhost"))


#: Headers only a browser adds (fetch metadata, and `Origin` on CORS and non-GET requests).
_BROWSER_HEADERS = ("origin", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest")


def browser_reason(headers: Mapping[str, str], allowed_origins: Iterable[str] = ()) -> str | None:
    """Why a request that did reach us from this machine may still have been sent by a web page
    from elsewhere, or None when it cannot have been.

    A peer on this machine can be a browser driven by any web page the developer opens: through
    DNS rebinding (a public name re-pointed at 127.0.0.1, so the page reads our answers as its
    own origin) or through a plain cross-site form post. Dev identities come from a header any
    caller can set, so dev mode answers only requests addressed to a local name (`Host`) and,
    when a browser says which page sent them (`Origin`), sent by a local page or one listed in
    `CORS_ORIGINS`. Top-level navigations (the OAuth redirect back) carry no `Origin` on GET.
    A request is taken as a browser's when it carries `Origin` or the fetch-metadata headers
    every current browser sends (`Sec-Fetch-*`); other clients may name any host.
    """
    if not any(name in headers for name in _BROWSER_HEADERS):
        return None  # not a browser: no page elsewhere can have made it (curl, SDKs, tests)
    host = _host_name(headers.get("host", ""))
    if not is_local_name(host):
        return "the request is addressed to a name that is not this machine (Host header)"
    origin = headers.get("origin")
    if origin is None:
        return None
    allowed = {o.rstrip("/").lower() for o in allowed_origins}
    if origin.rstrip("/").lower() in allowed:
        return None
    parts = urlsplit(origin) if origin != "null" else None
    if parts is not None and parts.scheme in {"http", "https"} and is_local_name(
            (parts.hostname or "").lower()):
        return None
    return "the request was sent by a web page on another site (Origin header)"
