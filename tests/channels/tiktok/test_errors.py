"""TikTok envelope -> typed error, table-driven (no network)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from postplan.channels import AuthError, OutcomeUnknown, PermanentError, RetryLater
from postplan.channels.tiktok.errors import error_for, fail_reason_error


def envelope(code: str, status: int = 200, message: str = "m", **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"data": {}, "error": {"code": code, "message": message,
                                                               "log_id": "x"}},
                          headers=headers)


def test_ok_is_no_error() -> None:
    assert error_for(envelope("ok")) is None


@pytest.mark.parametrize(("code", "status", "cls", "ours"), [
    ("access_token_invalid", 401, AuthError, "tiktok_auth_invalid"),
    ("scope_not_authorized", 401, AuthError, "tiktok_scope_missing"),
    ("scope_permission_missed", 400, AuthError, "tiktok_scope_missing"),
    ("rate_limit_exceeded", 429, RetryLater, "tiktok_rate_limited"),
    ("internal_error", 500, RetryLater, "tiktok_unavailable"),
    ("spam_risk_too_many_posts", 200, PermanentError, "tiktok_spam_risk_too_many_posts"),
    ("spam_risk_too_many_posts", 403, PermanentError, "tiktok_spam_risk_too_many_posts"),
    ("spam_risk_user_banned_from_posting", 200, PermanentError,
     "tiktok_spam_risk_user_banned_from_posting"),
    ("reached_active_user_cap", 200, PermanentError, "tiktok_reached_active_user_cap"),
    ("spam_risk_too_many_pending_share", 403, PermanentError,
     "tiktok_spam_risk_too_many_pending_share"),
    ("unaudited_client_can_only_post_to_private_accounts", 403, PermanentError,
     "tiktok_unaudited_client_can_only_post_to_private_accounts"),
    ("url_ownership_unverified", 403, PermanentError, "tiktok_url_ownership_unverified"),
    ("privacy_level_option_mismatch", 403, PermanentError,
     "tiktok_privacy_level_option_mismatch"),
    ("invalid_param", 400, PermanentError, "tiktok_invalid_param"),
    ("invalid_params", 400, PermanentError, "tiktok_invalid_params"),
    ("app_version_check_failed", 400, PermanentError, "tiktok_app_version_check_failed"),
    ("something_new", 400, PermanentError, "tiktok_something_new"),
])
def test_mapping(code: str, status: int, cls: type[Exception], ours: str) -> None:
    error = error_for(envelope(code, status))
    assert isinstance(error, cls)
    assert error.code == ours
    assert error.platform_code == code
    assert error.http_status == status
    assert error.message and error.message != code


def test_rate_limit_uses_retry_after_when_sent() -> None:
    error = error_for(envelope("rate_limit_exceeded", 429, **{"Retry-After": "12"}))
    assert isinstance(error, RetryLater) and error.retry_after == 12.0 and error.from_platform


def test_rate_limit_without_header_waits_about_a_minute() -> None:
    error = error_for(envelope("rate_limit_exceeded", 429))
    assert isinstance(error, RetryLater) and 60 <= error.retry_after <= 72
    assert not error.from_platform


@pytest.mark.parametrize("body", [{"data": {}, "error": {"code": "internal_error"}}, "oops"])
def test_server_error_on_irreversible_call_is_unknown(body: Any) -> None:
    response = (httpx.Response(502, json=body) if isinstance(body, dict)
                else httpx.Response(502, text=body))
    error = error_for(response, irreversible=True, handle="v_pub_url~v2.1")
    assert isinstance(error, OutcomeUnknown) and error.handle == "v_pub_url~v2.1"
    assert isinstance(error_for(response), RetryLater)


def test_200_without_envelope_is_never_success() -> None:
    error = error_for(httpx.Response(200, text="<html>"))
    assert isinstance(error, PermanentError) and error.code == "tiktok_bad_response"


@pytest.mark.parametrize(("reason", "cls"), [
    ("internal", PermanentError), ("file_format_check_failed", PermanentError),
    ("auth_removed", PermanentError), ("publish_cancelled", PermanentError),
    ("brand_new_reason", PermanentError),
])
def test_fail_reasons(reason: str, cls: type[Exception]) -> None:
    error = fail_reason_error(reason, handle="p1")
    assert isinstance(error, cls)
    assert error.platform_code == reason and error.handle == "p1"
    assert error.message
