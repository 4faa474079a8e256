"""One error hierarchy and one renderer: RFC 9457 problem+json with a `code` and `requestId`."""

from __future__ import annotations

from typing import Any

PROBLEM_CONTENT_TYPE = "application/problem+json"


class AppError(Exception):
    """An error a client should see. Each carries its HTTP status and a stable `code`."""

    status_code: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra or {}
        self.headers = headers or {}


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    title = "Not found"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"
    title = "Unauthorized"


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    title = "Conflict"


class PreconditionFailed(AppError):
    status_code = 412
    code = "version_mismatch"
    title = "Precondition failed"


class Unprocessable(AppError):
    status_code = 422
    code = "unprocessable"
    title = "Unprocessable content"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "unavailable"
    title = "Service unavailable"


class DatabaseBusy(ServiceUnavailable):
    """The database stayed locked by other writers past the busy timeout: retry shortly."""

    code = "database_busy"
    title = "Database busy"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": "1"})
        super().__init__(detail or "the database is busy with other writes; retry shortly",
                         **kwargs)


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    request_id: str | None,
    **extra: Any,
) -> dict[str, Any]:
    """A problem+json body. `type` is a stable URI per code so clients can switch on it."""
    body: dict[str, Any] = {
        "type": f"https://postplan.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "requestId": request_id,
    }
    body.update(extra)
    return body
