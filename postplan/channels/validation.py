"""Offline checks shared by every channel: time, media URLs, counts. No network."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import urlsplit

from postplan.channels.base import Finding, PublishRequest
from postplan.config import is_loopback
from postplan.core.vocab import FORMATS_BY_CHANNEL

__all__ = [
    "PRIVATE_TLDS",
    "ChannelCheck",
    "aware",
    "check_format",
    "check_media_urls",
    "check_quota",
    "check_schedule",
    "media_url_problem",
    "offline_findings",
]

#: One of a channel's own offline checks (media per format, text limits, options).
ChannelCheck = Callable[[PublishRequest], list[Finding]]


def aware(when: datetime) -> datetime:
    """Naive datetimes are taken as UTC."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def check_format(req: PublishRequest) -> list[Finding]:
    """The entry's format must be one the channel takes."""
    if req.format not in FORMATS_BY_CHANNEL[req.channel]:
        allowed = ", ".join(f.value for f in FORMATS_BY_CHANNEL[req.channel])
        return [Finding(code="format_not_supported", field="format",
                        message=f"{req.channel.value} takes {allowed}, not {req.format.value}.")]
    return []


def check_schedule(req: PublishRequest, now: datetime) -> list[Finding]:
    """A scheduled time already past cannot be honoured."""
    if aware(req.scheduled_at) < aware(now):
        return [Finding(code="scheduled_in_past", field="scheduledAt",
                        message="The scheduled time is in the past.")]
    return []


#: Top-level names that never reach the public internet (RFC 6761, RFC 6762, RFC 8375 and
#: common private zones): a platform cannot fetch from them, a local fetcher would reach inside.
PRIVATE_TLDS = frozenset({"localhost", "local", "internal", "intranet", "private", "lan", "home",
                          "corp", "arpa"})


def _host_problem(host: str) -> str | None:
    """Why `host` is not a public domain name, or None when it is one."""
    try:
        ipaddress.ip_address(host)
        return "must use a domain name, not an IP address"
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    tld = labels[-1]
    # 127.1, 0x7f.1 or 2130706433 are IP addresses too, to most resolvers.
    if tld.isdigit() or tld.startswith("0x") or (len(labels) == 1 and host.isdigit()):
        return "must use a domain name, not an IP address"
    if len(labels) < 2 or tld in PRIVATE_TLDS:
        return "must use a public domain name"
    return None


@lru_cache(maxsize=4096)
def media_url_problem(url: str) -> str | None:
    """Why platforms cannot be handed `url`, or None. Cached: the publish endpoint and the worker
    ask about the same URLs again and again."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "is not a valid URL"
    if not url.isascii():
        return "must use US-ASCII characters only"
    if parts.scheme not in {"http", "https"} or not host:
        return "must be an absolute https URL"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password"
    if is_loopback(host):
        return None
    if parts.scheme != "https":
        return "must use https"
    return _host_problem(host)


def check_media_urls(req: PublishRequest) -> list[Finding]:
    """Platforms fetch media themselves: https, US-ASCII, a public host name, no credentials.
    Loopback http is let through so local fakes and dev setups work."""
    findings: list[Finding] = []
    for i, media in enumerate(req.media):
        if media.media_id is not None and not media.url:
            # A stored file without a public URL: uploaded by postplan (TikTok FILE_UPLOAD);
            # where a platform must pull it, the domain reports the missing PUBLIC_BASE_URL.
            continue
        problem = media_url_problem(media.url)
        if problem:
            findings.append(Finding(code="media_url_invalid", field=f"media[{i}].url",
                                    message=f"Media URL {problem}."))
    return findings


def check_quota(channel: str, posts_in_last_24h: int, limit: int) -> list[Finding]:
    """The channel's posts-per-24h cap (the domain counts what it already published)."""
    if posts_in_last_24h >= limit:
        return [Finding(code="daily_quota_exceeded", field=None,
                        message=f"{channel} allows about {limit} posts per 24 hours per account; "
                        f"{posts_in_last_24h} were already published.")]
    return []


def offline_findings(
    req: PublishRequest, now: datetime, *, media: ChannelCheck, text: ChannelCheck,
    options: ChannelCheck, quota: list[Finding],
) -> list[Finding]:
    """Every offline finding, in the order every channel reports them: format, schedule, the
    channel's media rules, media URLs, text, options, then `quota` (the channel's cap findings).
    A format the channel does not take is reported alone: the other rules depend on it."""
    findings = check_format(req)
    if findings:
        return findings
    findings += check_schedule(req, now)
    findings += media(req)
    findings += check_media_urls(req)
    findings += text(req)
    findings += options(req)
    findings += quota
    return findings
