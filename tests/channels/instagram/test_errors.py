"""Graph error envelope -> typed error, table-driven (no network)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from postplan.channels import AuthError, OutcomeUnknown, PermanentError, RetryLater
from postplan.channels.instagram.errors import error_for, status_subcode_error


def graph(code: int, subcode: int | None = None, status: int = 400, *,
          headers: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
    err: dict[str, Any] = {"message": "msg", "type": "OAuthException", "code": code,
                           "fbtrace_id": "t", **extra}
    if subcode:
        err["error_subcode"] = subcode
    return httpx.Response(status, json={"error": err}, headers=headers)


def test_success_is_no_error() -> None:
    assert error_for(httpx.Response(200, json={"id": "1"})) is None


@pytest.mark.parametrize(("code", "subcode", "cls", "ours"), [
    (190, 463, AuthError, "instagram_auth_invalid"),
    (102, None, AuthError, "instagram_auth_invalid"),
    (10, None, AuthError, "instagram_permission_missing"),
    (200, None, AuthError, "instagram_permission_missing"),
    (4, None, RetryLater, "instagram_rate_limited"),
    (17, None, RetryLater, "instagram_rate_limited"),
    (32, None, RetryLater, "instagram_rate_limited"),
    (613, None, RetryLater, "instagram_rate_limited"),
    (80002, None, RetryLater, "instagram_rate_limited"),
    (9007, 2207027, RetryLater, "instagram_media_not_ready"),
    (9, 2207042, PermanentError, "instagram_daily_quota"),
    (4, 2207051, PermanentError, "instagram_spam_block"),
    (-1, 2207001, RetryLater, "instagram_unavailable"),
    (24, 2207008, RetryLater, "instagram_unavailable"),
    (2, None, RetryLater, "instagram_unavailable"),
    (100, 2207028, PermanentError, "instagram_rejected"),
    (36003, 2207009, PermanentError, "instagram_rejected"),
    (25, 2207050, PermanentError, "instagram_rejected"),
])
def test_mapping(code: int, subcode: int | None, cls: type[Exception], ours: str) -> None:
    error = error_for(graph(code, subcode))
    assert isinstance(error, cls)
    assert error.code == ours
    assert error.platform_code == (f"{code}/{subcode}" if subcode else str(code))
    assert (error.message and error.message != "msg") or subcode is None


def test_auth_scope_flag() -> None:
    error = error_for(graph(10))
    assert isinstance(error, AuthError) and error.needs_scope
    expired = error_for(graph(190, 463))
    assert isinstance(expired, AuthError) and not expired.needs_scope


def test_buc_header_sets_the_delay() -> None:
    usage = {"1784": [{"type": "instagram", "call_count": 100, "total_cputime": 5,
                       "total_time": 5, "estimated_time_to_regain_access": 7}]}
    error = error_for(graph(80002, headers={"X-Business-Use-Case-Usage": json.dumps(usage)}))
    assert isinstance(error, RetryLater) and error.retry_after == 420.0 and error.from_platform


def test_transient_flag_is_honoured() -> None:
    assert isinstance(error_for(graph(1234, is_transient=True)), RetryLater)


def test_user_message_is_preferred_for_unknown_subcodes() -> None:
    error = error_for(graph(100, 9999999, error_user_msg="Fix the thing."))
    assert isinstance(error, PermanentError) and error.message == "Fix the thing."


@pytest.mark.parametrize("response", [
    graph(2, status=500, is_transient=True),
    httpx.Response(503, text="upstream down"),
    graph(4, 2207051),
])
def test_ambiguous_answers_to_media_publish_are_outcome_unknown(response: httpx.Response) -> None:
    error = error_for(response, irreversible=True, handle="c1")
    assert isinstance(error, OutcomeUnknown) and error.handle == "c1"
    assert "reconcile" in error.message


def test_clear_rejections_of_media_publish_stay_typed() -> None:
    assert isinstance(error_for(graph(9007, 2207027), irreversible=True), RetryLater)
    assert isinstance(error_for(graph(9, 2207042), irreversible=True), PermanentError)
    assert isinstance(error_for(graph(190, 463), irreversible=True), AuthError)


@pytest.mark.parametrize(("status", "cls", "platform"), [
    ("Error: Media upload has failed with error code 2207026", PermanentError, "2207026"),
    ("Error: Media upload has failed with error code 2207082", RetryLater, "2207082"),
    ("Error: something", PermanentError, None),
])
def test_container_error_status(status: str, cls: type[Exception], platform: str | None) -> None:
    error = status_subcode_error(status, handle="c")
    assert isinstance(error, cls) and error.platform_code == platform
