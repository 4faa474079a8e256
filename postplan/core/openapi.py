"""The OpenAPI document describes every answer a client can get, errors included.

Routes declare the errors that belong to them (`problem_responses(404, 409)`); this module adds
the ones every route shares (400, 401, 413, 415, 422, 429, 503 — each an RFC 9457
problem+json with a `code`), replaces FastAPI's default 422 body (which postplan never sends),
and names how callers authenticate in the configured auth mode.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from postplan.config import AuthMode, Settings
from postplan.core.auth import USER_ID_PATTERN
from postplan.core.errors import PROBLEM_CONTENT_TYPE
from postplan.core.validators import (
    JSON_OBJECT_MARKER,
    JSON_OBJECT_SCHEMA,
    JSON_VALUE_SCHEMA,
    ZONE_MARKER,
)

PROBLEM_REF = "#/components/schemas/Problem"

#: Why each status is answered, for the document's descriptions.
_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request (body is not JSON, a header is malformed)",
    401: "Not authenticated",
    404: "Not found (also for another user's object)",
    409: "Conflict with the current state; retry later",
    412: "If-Match names an older version",
    413: "Body or collection too large",
    415: "Unsupported Content-Type",
    422: "Invalid input; `errors` lists the fields",
    429: "Too many requests; see Retry-After",
    502: "The channel refused the request",
    503: "Temporarily unavailable; see Retry-After",
}

_BODY_METHODS = frozenset({"post", "put", "patch"})

#: Models a route documents by reference without FastAPI parsing them (a request body the
#: handler reads itself): added to the document's components.
_EXTRA_MODELS: dict[str, type[BaseModel]] = {}


def schema_ref(model: type[BaseModel]) -> dict[str, str]:
    """A `$ref` to `model`'s schema, which the document will then define in its components."""
    _EXTRA_MODELS[model.__name__] = model
    return {"$ref": f"#/components/schemas/{model.__name__}"}


class ProblemField(BaseModel):
    """One invalid field of a 422 problem."""

    model_config = ConfigDict(extra="allow")

    field: str | None = None
    message: str
    type: str | None = None
    row: int | None = None


class Problem(BaseModel):
    """RFC 9457 problem details; `code` is stable, switch on it. Problems may carry more
    members (e.g. `currentVersion` on a 412, `errors` on a 422)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="https://postplan.dev/problems/<code>")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    requestId: str | None = None
    errors: list[ProblemField] | None = None


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """One documented problem+json response."""
    return {
        "description": description or _DESCRIPTIONS.get(status, "Problem"),
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status documented as a problem+json answer."""
    return {status: problem_response(status) for status in statuses}


def link(path: str, method: str, description: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link to the operation at `path`/`method`, filling its parameters from runtime
    expressions (e.g. `token="$response.body#/token"`): how a client (or a stateful fuzzer)
    goes from one answer to the next request."""
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method.lower()}", "description": description,
            "parameters": parameters}


def _zone_ref(inline: dict[str, Any]) -> dict[str, Any]:
    kept = {k: inline[k] for k in ("title", "description", "default") if k in inline}
    return {"$ref": "#/components/schemas/TimeZone", **kept}


def _replace_marked(schema: dict[str, Any]) -> None:
    """Replace each marked inline schema: a zone-name list by a reference to one `TimeZone`
    component, a free-form JSON object by JSON_OBJECT_SCHEMA (recursive `JsonValue`)."""
    components = schema["components"]["schemas"]
    stack: list[Any] = [schema]
    zone: dict[str, Any] | None = None

    def replacement(value: Any) -> dict[str, Any] | None:
        nonlocal zone
        if not isinstance(value, dict):
            return None
        if value.get(ZONE_MARKER):
            zone = zone or {"type": "string", "enum": value["enum"],
                            "description": "An IANA time zone name (tzdata)"}
            return _zone_ref(value)
        if value.get(JSON_OBJECT_MARKER):
            kept = {k: value[k] for k in ("title", "description", "default") if k in value}
            return {**JSON_OBJECT_SCHEMA, **kept}
        return None

    while stack:
        node = stack.pop()
        items = list(node.items()) if isinstance(node, dict) else \
            list(enumerate(node)) if isinstance(node, list) else []
        for key, value in items:
            new = replacement(value)
            if new is None:
                stack.append(value)
            else:
                node[key] = new
    if zone is not None:
        components["TimeZone"] = zone


def _problem_components(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    generated = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in generated.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components["Problem"] = generated
    components["JsonValue"] = JSON_VALUE_SCHEMA
    for name, model in _EXTRA_MODELS.items():
        extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in extra.pop("$defs", {}).items():
            components.setdefault(def_name, definition)
        components[name] = extra
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)


def _not_null(parameter: dict[str, Any]) -> None:
    """A query, header or path value is a string or absent, never JSON `null`: an optional
    parameter's `anyOf: [X, null]` (how FastAPI spells `str | None`) is documented as `X`."""
    schema = parameter.get("schema", {})
    options = schema.get("anyOf")
    if isinstance(options, list):
        kept = [o for o in options if o != {"type": "null"}]
        if len(kept) == 1 and len(kept) < len(options):
            del schema["anyOf"]
            schema.update(kept[0])


def document(schema: dict[str, Any], settings: Settings) -> None:
    """Complete a generated document in place (shared errors, problem bodies, security)."""
    _problem_components(schema)
    _replace_marked(schema)
    supabase = settings.auth_mode is AuthMode.supabase
    schemes: dict[str, Any] = schema["components"].get("securitySchemes", {})
    # Both schemes are declared by `current_user`; only the configured mode's one is real. Dev
    # mode's header is optional (no header means the user `local`), so it is documented as a
    # parameter: as a security scheme, a request without it would have to be refused.
    schemes.pop("devUser", None)
    if not supabase:
        schemes.pop("bearerAuth", None)
    if not schemes:
        schema["components"].pop("securitySchemes", None)
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                _not_null(parameter)
            responses: dict[str, Any] = operation["responses"]
            shared = [400, 422, 429, 503]
            if operation.pop("security", None):
                shared.append(401)
                if supabase:
                    operation["security"] = [{"bearerAuth": []}]
                else:
                    operation.setdefault("parameters", []).append({
                        "name": "X-User-Id", "in": "header", "required": False,
                        "description": "AUTH_MODE=dev only: who is calling (default `local`); "
                                       "accepted from this machine only",
                        "schema": {"type": "string", "pattern": USER_ID_PATTERN,
                                   "maxLength": 128},
                    })
            if method in _BODY_METHODS:
                shared += [413, 415]
                for content in operation.get("requestBody", {}).get("content", {}).values():
                    body = content.get("schema", {})
                    if body.get("type") == "string":  # a file sent as the body: its bytes
                        body.setdefault("maxLength", settings.max_body_bytes)
            for status in shared:
                key = str(status)
                # FastAPI's own 422 (HTTPValidationError as application/json) is never sent.
                if key not in responses or status == 422:
                    responses[key] = problem_response(status)
            for key, response in list(responses.items()):
                content = response.get("content", {})
                if key.startswith(("4", "5")) and "application/json" in content \
                        and PROBLEM_CONTENT_TYPE not in content:
                    responses[key] = problem_response(int(key), response.get("description"))


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the completed document at /openapi.json (built once, on first request)."""
    build_document = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None or not app.state.openapi_documented:
            schema = build_document()
            document(schema, settings)
            app.state.openapi_documented = True
        return app.openapi_schema  # type: ignore[return-value]

    app.state.openapi_documented = False
    app.openapi = openapi  # type: ignore[method-assign]
