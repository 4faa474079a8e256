"""Schemathesis hooks for the fuzz suite (loaded with SCHEMATHESIS_HOOKS=tests.faults.…).

One hook, `filter_failure`, with a short list of exceptions, each a rule a JSON schema cannot
state. A positive (schema-valid) request may still be refused when its values are each valid but
name something that does not exist or do not go together; the API then says so with a
specific problem `code` (or, for field combinations, an error `type`) that clients can switch on
— never the generic 500. Everything else a check reports stays a failure.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis

#: File (JSON lines) where each request and each waived failure is written, when set.
LOG_ENV = "POSTPLAN_FUZZ_LOG"

#: When set (CI), positive cases are kept small: briefs plan at most 7 days (a 92-day plan writes
#: ~180 entries, and the coverage phase sends about a thousand briefs) and import files hold at
#: most 50 rows (its maxItems boundary is 10,000, and every later export reads them back). The
#: long campaign leaves it unset; schema-invalid cases are never changed.
SMALL_ENV = "POSTPLAN_FUZZ_SMALL"
SMALL_DAYS = 7
SMALL_ROWS = 50

#: A brief the planner cannot plan (generation/planner/checks.py, docs/briefs.md): the problem's
#: code, and each error's `type` when several problems are listed.
PLANNER_CODES = ("language_unsupported", "region_not_in_country", "closed_days_conflict",
                 "windows_closed_days_conflict", "posts_per_week_unfittable")

#: Problem codes of a schema-valid request refused for what it refers to.
SEMANTIC_CODES = frozenset({
    "invalid_cursor",          # an opaque page cursor this service did not issue
    "idempotency_key_reused",  # the same Idempotency-Key with a different body
    "oauth_state_invalid",     # an OAuth state (a server-issued nonce) that is unknown/expired
    "oauth_denied",            # the platform said the user declined
    "invalid_format",          # a format the entry's channel does not have
    "import_rejected",         # no row could be written (each row's reason is listed)
    "truncated_file",          # entryCount disagrees with the entries present
    "channel_auth_missing",    # a live publish for a channel that is not connected
    "channel_auth_invalid",
    "invalid_last_event_id",   # a Last-Event-ID of another run
    "entry_not_found",         # entry ids that are not in the calendar
    "csv_missing_columns",     # a CSV (a string to the schema) without the required header
    "empty_file",
    "version_mismatch",        # If-Match names a version the entry is no longer at (412)
    *PLANNER_CODES,
    # Media: what the bytes are (sniffed), a filename's characters, a tus offset or upload
    # state, a signed URL's signature and expiry, a range past the end: none is in a schema.
    "unsupported_media", "media_type_mismatch", "media_empty", "media_filename_invalid",
    "media_upload_invalid", "media_too_large", "media_quota_exceeded", "media_in_use",
    "upload_offset_mismatch", "media_signature_invalid", "media_url_expired",
    "range_not_satisfiable", "unsupported_media_type",
    "webhook_url_forbidden",   # a webhook host that resolves nowhere, or somewhere private
    "too_many_webhooks",       # the per-user cap on webhooks
    "intent_not_cancellable",  # an intent past the point of no return
    "intent_not_unknown",      # resolving an intent that is not unknown
    "intent_not_retryable",    # retrying an intent that did not fail
})

#: pydantic error types (in a 422's `errors`) that a schema cannot express: an instant outside
#: 2000–2100 (JSON Schema cannot bound a date-time), a combination of fields, and the planner's
#: arithmetic on a brief (more pillars than posts, a span past 2100, …).
SEMANTIC_ERROR_TYPES = frozenset({"date_out_of_range", "conflicting_fields", "invalid",
                                  *PLANNER_CODES})


def _problem(response: Any) -> dict[str, Any] | None:
    if "problem+json" not in (response.headers.get("content-type") or [""])[0]:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def is_semantic_rejection(response: Any) -> bool:
    """A 4xx problem whose code (or every error type) is one of the documented semantic ones."""
    if not 400 <= response.status_code < 500:
        return False
    problem = _problem(response)
    if problem is None:
        return False
    if problem.get("code") in SEMANTIC_CODES:
        return True
    errors = problem.get("errors") or []
    return problem.get("code") == "validation_failed" and bool(errors) and all(
        isinstance(e, dict) and e.get("type") in SEMANTIC_ERROR_TYPES for e in errors)


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """A schema-valid import file states its own length (`entryCount`); a JSON schema cannot
    tie one field to another's size, so positive cases get the count they would carry. Under
    SMALL_ENV, positive cases are kept small (CI's time budget)."""
    meta = getattr(case, "meta", None)
    positive = meta is not None and meta.generation.mode.is_positive
    body = case.body
    if not positive or not isinstance(body, dict):
        return case
    small = os.environ.get(SMALL_ENV) == "1"
    if case.operation.path == "/v1/calendars/import" and isinstance(body.get("entries"), list):
        if small:
            body["entries"] = body["entries"][:SMALL_ROWS]
        body["entryCount"] = len(body["entries"])
    if small and case.operation.path == "/v1/ai/calendar" \
            and isinstance(body.get("days"), int) and body["days"] > SMALL_DAYS:
        body["days"] = SMALL_DAYS
        if isinstance(body.get("pillars"), list):  # a short plan has few posts to spread over
            body["pillars"] = body["pillars"][:1]
    return case


def _null_path_parameter(case: Any, response: Any) -> bool:
    problem = _problem(response) or {}
    params = getattr(case, "path_parameters", None) or {}
    nulls = {name for name, value in params.items() if value is None or value == "None"}
    errors = [e for e in problem.get("errors") or [] if isinstance(e, dict)]
    return bool(nulls) and bool(errors) and all(
        e.get("type") == "uuid_parsing" and e.get("field") in nulls for e in errors)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure except the documented exceptions above."""
    code = getattr(failure, "code", "")
    waived = (
        (code == "ST202" and is_semantic_rejection(response))  # schema-valid request rejected
        # An import with one broken row among good ones imports the good ones and lists the
        # broken one (207, documented): a negative row is reported, not the file refused.
        or (code == "ST201" and response.status_code == 207
            and case.operation.path == "/v1/calendars/import")
        # A stateful link that carried a null id (an intent of a hand-added entry has
        # `runId: null`) into a uuid path parameter: the request was never schema-valid.
        or (code == "ST202" and _null_path_parameter(case, response))
    )
    if waived:
        problem = _problem(response) or {}
        _log({"kind": "waived", "operation": case.operation.label, "failure": code,
              "status": response.status_code, "code": problem.get("code"),
              "detail": str(problem.get("detail", ""))[:200],
              "errors": [str(e.get("message", ""))[:120] for e in problem.get("errors") or []
                         if isinstance(e, dict)][:3],
              "types": sorted({e.get("type") for e in problem.get("errors") or []
                               if isinstance(e, dict)})})
    return not waived


def _log(record: dict[str, Any]) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """One line per request (operation, status, problem code) for the suite's figures."""
    problem = _problem(response) or {}
    _log({"kind": "call", "operation": case.operation.label, "status": response.status_code,
          "code": problem.get("code")})
