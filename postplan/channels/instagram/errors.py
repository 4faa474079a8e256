"""Graph API error envelope -> typed channel errors.

`{"error": {"message", "type", "code", "error_subcode", "is_transient", "error_user_title",
"error_user_msg", "fbtrace_id"}}`. Meta throttles with HTTP 400 (never 429), so branch on `code`
and `error_subcode`, not on the status.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from postplan.channels.backoff import backoff_delay, jittered, retry_after_seconds
from postplan.channels.base import (
    AuthError,
    ChannelError,
    OutcomeUnknown,
    PermanentError,
    RetryLater,
)

__all__ = ["SUBCODE_MESSAGES", "GraphError", "error_for", "parse_error", "status_subcode_error"]

_AUTH_CODES = {190, 102}
_SCOPE_CODES = {3, 10, *range(200, 300)}
_RATE_CODES = {4, 17, 32, 341, 613, 80002}
_TRANSIENT_CODES = {1, 2}
_TRANSIENT_SUBCODES = {2207001, 2207003, 2207008, 2207032, 2207082}
SPAM_BLOCK_SUBCODE = 2207051
NOT_READY = (9007, 2207027)
QUOTA = (9, 2207042)

SUBCODE_MESSAGES: dict[int, str] = {
    2207003: "Instagram timed out downloading the media; retrying.",
    2207020: "The media container expired; it will be created again.",
    2207001: "Instagram had a server error; retrying.",
    2207032: "Instagram failed to create the media; retrying.",
    2207053: "Instagram failed to process the video upload.",
    2207057: "The cover thumbnail offset is outside the video.",
    2207051: "Instagram restricted this account's activity (suspected spam).",
    2207042: "This Instagram account reached its publishing limit for the last 24 hours.",
    2207006: "Instagram could not find the media (permissions or an expired token).",
    2207008: "The media container is temporarily unavailable; retrying.",
    2207050: "The Instagram account is restricted or inactive; the user must fix it in the app.",
    2207023: "Instagram does not know this media type.",
    2207028: "A carousel needs 2 to 10 items.",
    2207040: "The caption has more than 20 @-mentions.",
    2207026: "Instagram does not support this video format (use MOV or MP4, H.264).",
    2207052: "Instagram could not fetch the media from its URL.",
    2207027: "The media is not ready for publishing yet.",
    2207004: "The image is larger than 8 MB.",
    2207005: "Instagram does not support this image format (use JPEG).",
    2207009: "The image's aspect ratio is outside 4:5 to 1.91:1.",
    2207010: "The caption is too long (2200 characters, 30 hashtags, 20 @-mentions).",
    2207076: "Instagram rejected the video during processing.",
    2207077: "Instagram could not download the video.",
    2207082: "Instagram failed to process the upload; retrying.",
}


class GraphError:
    """The fields of a Graph error that decisions depend on."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.code = _int(body.get("code"))
        self.subcode = _int(body.get("error_subcode"))
        self.message = str(body.get("message") or "")
        self.user_message = str(body.get("error_user_msg") or "")
        self.is_transient = bool(body.get("is_transient"))

    @property
    def platform_code(self) -> str | None:
        if self.code is None:
            return None
        return f"{self.code}/{self.subcode}" if self.subcode else str(self.code)

    def human(self) -> str:
        if self.subcode in SUBCODE_MESSAGES:
            return SUBCODE_MESSAGES[self.subcode]
        return self.user_message or self.message or "Instagram rejected the request."


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def parse_error(response: httpx.Response) -> GraphError | None:
    """The `error` object of a response, if it has one."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return GraphError(body["error"])
    return None


def _usage_delay(response: httpx.Response) -> float | None:
    """`X-Business-Use-Case-Usage`: estimated_time_to_regain_access is in minutes."""
    raw = response.headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = [
        float(item.get("estimated_time_to_regain_access") or 0)
        for items in (usage.values() if isinstance(usage, dict) else [])
        if isinstance(items, list)
        for item in items
        if isinstance(item, dict)
    ]
    best = max(minutes, default=0.0)
    return best * 60 if best > 0 else None


def error_for(
    response: httpx.Response, *, irreversible: bool = False, handle: str | None = None
) -> ChannelError | None:
    """The typed error a response means, or None for a success."""
    status = response.status_code
    graph = parse_error(response)
    if graph is None and status < 400:
        return None
    if graph is None:
        graph = GraphError({})
    kw: dict[str, Any] = {"platform_code": graph.platform_code, "http_status": status,
                          "handle": handle}
    code, subcode = graph.code, graph.subcode
    if irreversible and (status >= 500 or subcode == SPAM_BLOCK_SUBCODE):
        # media_publish: a server error or the spam block has been seen with the post live.
        return OutcomeUnknown(
            "instagram_outcome_unknown",
            f"{graph.human()} The post may be live - reconcile before any retry.", **kw)
    if code in _AUTH_CODES:
        return AuthError("instagram_auth_invalid",
                         "The Instagram token is invalid or expired; reconnect Instagram.", **kw)
    if code in _SCOPE_CODES:
        return AuthError("instagram_permission_missing",
                         "Instagram did not grant the permission this needs; reconnect "
                         "Instagram and allow content publishing.", needs_scope=True, **kw)
    if (code, subcode) == QUOTA:
        return PermanentError("instagram_daily_quota", graph.human(), **kw)
    if code == 4 and subcode == SPAM_BLOCK_SUBCODE:
        return PermanentError("instagram_spam_block", graph.human(), **kw)
    if code in _RATE_CODES:
        delay = _usage_delay(response) or retry_after_seconds(response)
        return RetryLater("instagram_rate_limited",
                          "Instagram's rate limit was hit; retrying later.",
                          retry_after=delay if delay is not None else jittered(60.0),
                          from_platform=delay is not None, **kw)
    if (code, subcode) == NOT_READY:
        return RetryLater("instagram_media_not_ready", graph.human(),
                          retry_after=jittered(5.0), **kw)
    if (
        status >= 500 or graph.is_transient or code in _TRANSIENT_CODES
        or subcode in _TRANSIENT_SUBCODES
    ):
        delay = retry_after_seconds(response)
        return RetryLater("instagram_unavailable", graph.human(),
                          retry_after=delay if delay is not None else backoff_delay(1), **kw)
    return PermanentError("instagram_rejected", graph.human(), **kw)


def status_subcode_error(status_text: str, *, handle: str | None) -> ChannelError:
    """A container that ended in ERROR: its `status` text carries the subcode."""
    digits = [int(tok) for tok in status_text.replace(".", " ").split() if tok.isdigit()]
    subcode = next((d for d in digits if d > 2_000_000), None)
    message = SUBCODE_MESSAGES.get(subcode or 0, "Instagram failed to process the media.")
    kw: dict[str, Any] = {"platform_code": str(subcode) if subcode else None, "handle": handle}
    if subcode in _TRANSIENT_SUBCODES:
        return RetryLater("instagram_container_failed", message,
                          retry_after=backoff_delay(1), **kw)
    return PermanentError("instagram_container_failed", message, **kw)
