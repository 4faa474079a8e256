"""TikTok's `{"data", "error": {code, message, log_id}}` envelope -> typed channel errors.

Check `error.code`, not only the HTTP status: creator_info reports the daily cap and bans with
HTTP 200 on purpose.
"""

from __future__ import annotations

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

__all__ = ["FAIL_REASONS", "MESSAGES", "error_for", "fail_reason_error", "parse_envelope"]

#: What to tell a human for each platform code (the platform's own message is often terse).
MESSAGES: dict[str, str] = {
    "access_token_invalid": "The TikTok token is invalid or expired; reconnect TikTok.",
    "scope_not_authorized": "TikTok did not grant the permission this needs; reconnect TikTok "
    "and allow posting.",
    "scope_permission_missed": "TikTok needs an extra permission; reconnect TikTok.",
    "rate_limit_exceeded": "TikTok's rate limit was hit; retrying later.",
    "spam_risk_too_many_posts": "This TikTok account reached its daily post limit; try again "
    "tomorrow.",
    "spam_risk_user_banned_from_posting": "TikTok has banned this account from posting.",
    "reached_active_user_cap": "The app's daily quota of TikTok publishers is used up; try again "
    "tomorrow.",
    "spam_risk_too_many_pending_share": "This TikTok account has too many unposted drafts in its "
    "inbox; post or delete some first.",
    "unaudited_client_can_only_post_to_private_accounts": "This TikTok app is not audited yet: it "
    "can only post to private accounts with privacy SELF_ONLY.",
    "url_ownership_unverified": "The media URL is not on a domain verified for this TikTok app.",
    "privacy_level_option_mismatch": "The privacy level is not one this TikTok account allows.",
    "invalid_param": "TikTok rejected a parameter of the post.",
    "invalid_params": "TikTok rejected a parameter of the post.",
    "invalid_file_upload": "TikTok rejected the file: it does not meet the media specs.",
    "app_version_check_failed": "Drafts need TikTok app version 31.8 or later on the phone.",
    "invalid_publish_id": "TikTok does not know this publish id.",
    "token_not_authorized_for_specified_publish_id": "This publish id belongs to another account.",
    "internal_error": "TikTok had an internal error; retrying later.",
}

#: fail_reason from status/fetch -> (TikTok says a new post may succeed?, human message).
FAIL_REASONS: dict[str, tuple[bool, str]] = {
    "file_format_check_failed": (False, "TikTok rejected the video format."),
    "duration_check_failed": (False, "The video is too long or too short for this account."),
    "frame_rate_check_failed": (False, "The frame rate is outside 23-60 fps."),
    "picture_size_check_failed": (False, "The resolution is outside TikTok's limits."),
    "internal": (True, "TikTok failed internally while processing; safe to post again."),
    "video_pull_failed": (False, "TikTok could not download the video from its URL."),
    "photo_pull_failed": (False, "TikTok could not download a photo from its URL."),
    "publish_cancelled": (False, "The post was cancelled."),
    "auth_removed": (False, "The user removed the app's access while the post was processing."),
    "spam_risk_too_many_posts": (False, "The account reached its daily post limit."),
    "spam_risk_user_banned_from_posting": (False, "The account is banned from posting."),
    "spam_risk_text": (False, "TikTok judged the caption as spam."),
    "spam_risk": (False, "TikTok judged the post as risky."),
}

_AUTH = {"access_token_invalid"}
_SCOPE = {"scope_not_authorized", "scope_permission_missed"}
_DEFAULT_RATE_DELAY = 60.0  # TikTok sends no Retry-After; a minute empties a per-minute window.


def parse_envelope(response: httpx.Response) -> tuple[dict[str, Any], str, str]:
    """(data, error.code, error.message); a body that is not the envelope yields code ''."""
    try:
        body = response.json()
    except ValueError:
        return {}, "", ""
    if not isinstance(body, dict):
        return {}, "", ""
    raw_error, raw_data = body.get("error"), body.get("data")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    return data, str(error.get("code") or ""), str(error.get("message") or "")


def error_for(
    response: httpx.Response, *, irreversible: bool = False, handle: str | None = None
) -> ChannelError | None:
    """The typed error a response means, or None when it is a success (`error.code == ok`)."""
    _, code, platform_message = parse_envelope(response)
    status = response.status_code
    if code == "ok" and status < 400:
        return None
    kw: dict[str, Any] = {"platform_code": code or None, "http_status": status, "handle": handle}
    message = MESSAGES.get(code) or platform_message or f"TikTok answered HTTP {status}"
    if code in _AUTH or (status == 401 and code not in _SCOPE):
        return AuthError("tiktok_auth_invalid", message, **kw)
    if code in _SCOPE:
        return AuthError("tiktok_scope_missing", message, needs_scope=True, **kw)
    if code == "rate_limit_exceeded" or status == 429:
        delay = retry_after_seconds(response)
        return RetryLater(
            "tiktok_rate_limited", message,
            retry_after=delay if delay is not None else jittered(_DEFAULT_RATE_DELAY),
            from_platform=delay is not None, **kw,
        )
    if status >= 500 or code == "internal_error":
        if irreversible:
            return OutcomeUnknown(
                "tiktok_outcome_unknown",
                "TikTok answered with a server error to the publish call; the post may exist - "
                "reconcile before any retry",
                **kw,
            )
        delay = retry_after_seconds(response)
        return RetryLater(
            "tiktok_unavailable", message,
            retry_after=delay if delay is not None else backoff_delay(1), **kw,
        )
    if not code and status < 400:
        # 200 without the envelope: not TikTok's shape; never assume success.
        return PermanentError("tiktok_bad_response", "TikTok answered without a result.", **kw)
    return PermanentError(f"tiktok_{code or 'rejected'}", message, **kw)


def fail_reason_error(reason: str, *, handle: str | None) -> ChannelError:
    """The error for a publish that ended FAILED on TikTok's side.

    Always PermanentError: this publish_id is over, and polling it again cannot change that.
    For TikTok's own faults (`internal`) the message says a new post is safe; re-posting is the
    user's (or the domain's) decision, never a blind retry of the same step."""
    _, message = FAIL_REASONS.get(reason, (False, f"TikTok failed the post ({reason})."))
    return PermanentError(f"tiktok_failed_{reason}", message, platform_code=reason,
                          handle=handle)
