"""Response helpers both platforms' routes use: TikTok and Graph error envelopes,
the canned answers to scripted faults, and request parsing.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.channels.state import Fault

# -- response helpers ----------------------------------------------------------------------------


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _tt(
    data: dict[str, Any] | None = None, code: str = "ok", message: str = "", status: int = 200,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """TikTok's envelope: `error` on every answer, `code == ok` on success."""
    return JSONResponse(
        {"data": data if data is not None else {},
         "error": {"code": code, "message": message, "log_id": secrets.token_hex(8)}},
        status_code=status, headers=headers)


def _ig_err(
    code: int, message: str, *, subcode: int | None = None, status: int = 400,
    transient: bool = False, user_msg: str | None = None, headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The Graph API error envelope."""
    err: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code,
                           "is_transient": transient, "fbtrace_id": secrets.token_urlsafe(9)}
    if subcode is not None:
        err["error_subcode"] = subcode
        err["error_user_title"] = "Error"
        err["error_user_msg"] = user_msg or message
    return JSONResponse({"error": err}, status_code=status, headers=headers)


def _is_tiktok(path: str) -> bool:
    return path.startswith(("/v2/", "/upload/", "/media/"))


def _fault_response(fault: Fault, path: str) -> Response:
    if fault.body is not None:
        return JSONResponse(fault.body, status_code=fault.status, headers=fault.headers)
    tiktok = _is_tiktok(path)
    if fault.kind == "rate_limit":
        if tiktok:
            return _tt(code="rate_limit_exceeded", message="Too many requests.", status=429,
                       headers=fault.headers)
        usage = {"1": [{"type": "instagram", "call_count": 100, "total_cputime": 40,
                        "total_time": 40, "estimated_time_to_regain_access": 1}]}
        return _ig_err(17, "User request limit reached", transient=True,
                       headers={"X-Business-Use-Case-Usage": _dumps(usage), **fault.headers})
    if fault.kind == "auth":
        if tiktok:
            return _tt(code="access_token_invalid", status=401,
                       message="The access token is invalid or not found in the request.")
        return _ig_err(190, "Error validating access token: Session has expired.", subcode=463,
                       status=401)
    if fault.kind == "invalid":
        if tiktok:
            return _tt(code="invalid_param", status=400,
                       message="Invalid parameter: post_info.privacy_level.")
        return _ig_err(100, "Invalid parameter", subcode=2207023,
                       user_msg="The media type is not known.")
    if tiktok:
        return _tt(code="internal_error" if fault.status >= 500 else "invalid_param",
                   message="Scripted fault.", status=fault.status, headers=fault.headers)
    return _ig_err(2 if fault.status >= 500 else 100,
                   "An unexpected error has occurred. Please retry your request later.",
                   status=fault.status, transient=fault.status >= 500, headers=fault.headers)


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
