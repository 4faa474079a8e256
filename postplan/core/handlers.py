"""Exception handlers: every error leaves as problem+json; no stack trace reaches a client."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from postplan.core.context import request_id_var
from postplan.core.db import is_database_busy
from postplan.core.errors import PROBLEM_CONTENT_TYPE, AppError, DatabaseBusy, problem
from postplan.core.logging import get_logger

log = get_logger("postplan.errors")

_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("body_too_large", "Content too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
}


def problem_response(status: int, code: str, title: str, detail: str,
                     headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """A problem+json response carrying the current request id."""
    return JSONResponse(
        problem(status, code, title, detail, request_id_var.get(), **extra),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    # Drop the locations' kind and the names pydantic gives union members
    # ("function-after[…]", "dict[str-enum[Channel],…]", our own tags such as "[hosted]"):
    # a field name never holds "[".
    parts = [str(p) for p in loc
             if p not in ("body", "query", "path", "header") and "[" not in str(p)]
    return ".".join(parts) or str(loc[0] if loc else "")


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if exc.status_code >= 500:
        log.error("http.app_error", code=exc.code, detail=exc.detail)
    return problem_response(exc.status_code, exc.code, exc.title, exc.detail,
                            headers=exc.headers or None, **exc.extra)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    malformed = False
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            malformed = True
        errors.append({
            "field": _field_path(tuple(err.get("loc", ()))),
            "message": str(err.get("msg", "invalid")),
            "type": str(err.get("type", "invalid")),
        })
    if malformed:
        return problem_response(400, "malformed_json", "Malformed JSON",
                                "the request body is not valid JSON", errors=errors)
    return problem_response(422, "validation_failed", "Validation failed",
                            "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]),
                            errors=errors)


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def allowed_methods(request: Request) -> list[str]:
    """Every method the API documents at this request's path ([] for an undocumented path).

    Starlette's 405 names only the methods of the first route whose path matched, so
    `POST …/feed` was left out of the `Allow` of a `PUT …/feed` request; the OpenAPI document
    knows every method of a path."""
    schema: dict[str, Any] = request.app.openapi()
    path = request.url.path
    # The most literal template wins (`/calendars/import` over `/calendars/{calendar_id}`),
    # as it does when routing a request with that template's methods.
    templates = sorted(schema.get("paths", {}).items(), key=lambda kv: kv[0].count("{"))
    for template, item in templates:
        pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return sorted(m.upper() for m in item if m in _HTTP_METHODS)
    return []


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    return problem_response(exc.status_code, code, title, detail, headers=headers or None)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    # Lock contention that outlived the busy timeout is load, not a bug: 503 + Retry-After.
    if is_database_busy(exc):
        log.warning("db.busy", errorType=type(exc).__name__)
        return await _app_error(request, DatabaseBusy())
    raise exc  # anything else is a fault: the outermost handler answers 500 and logs it


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("http.unhandled_error", errorType=type(exc).__name__)
    # This handler runs outside the request-id middleware (Starlette's ServerErrorMiddleware
    # is outermost), so the header is added here.
    request_id: str | None = getattr(request.state, "request_id", None)
    return JSONResponse(
        problem(500, "internal_error", "Internal error",
                "an unexpected error occurred; quote the requestId when reporting it",
                request_id),
        status_code=500,
        media_type=PROBLEM_CONTENT_TYPE,
        headers={"X-Request-Id": request_id} if request_id else None,
    )


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unhandled)
