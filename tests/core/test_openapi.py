"""The OpenAPI document describes every answer (errors as problem+json with a `code`) and bounds
every input (strings, arrays, numbers, objects), in both auth modes; 405s list the path's real
methods."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.apps import build_app, live_server, make_settings
from tests.fixtures.databases import sqlite_url

MODES = {"dev": {}, "supabase": {"AUTH_MODE": "supabase", "SUPABASE_JWT_SECRET": "s" * 40}}
UNAUTHENTICATED = {"/healthz", "/readyz", "/v1/feeds/{token}.ics",
                   "/v1/channels/{channel}/oauth/callback",
                   # The owner reads with credentials, anyone else with a signed URL (the
                   # signature is the credential); 401 is documented for the first case.
                   "/v1/media/{media_id}/content"}


def document(tmp_path: Path, mode: str) -> dict[str, Any]:
    app = build_app(make_settings(sqlite_url(tmp_path), **MODES[mode]))
    schema: dict[str, Any] = app.openapi()
    return schema


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = doc["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def unbounded(doc: dict[str, Any], schema: dict[str, Any], where: str,
              seen: set[str] | None = None) -> Iterator[str]:
    """Every place in an input schema where a value's size is not limited."""
    seen = set() if seen is None else seen
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return
        seen.add(name)
        yield from unbounded(doc, resolve(doc, schema), f"{where}->{name}", seen)
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for index, option in enumerate(schema.get(key, [])):
            yield from unbounded(doc, option, f"{where}/{key}{index}", seen)
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        return
    if kind == "string" and "maxLength" not in schema and schema.get("format") != "uuid":
        yield f"{where}: string without maxLength"
    if kind == "array":
        if "maxItems" not in schema:
            yield f"{where}: array without maxItems"
        yield from unbounded(doc, schema.get("items", {}), f"{where}[]", seen)
    if kind == "integer" and "maximum" not in schema:
        yield f"{where}: integer without maximum"
    if kind == "object":
        extra = schema.get("additionalProperties", True)
        if extra is not False and "maxProperties" not in schema:
            yield f"{where}: open object without maxProperties"
        if isinstance(extra, dict):
            yield from unbounded(doc, extra, f"{where}{{}}", seen)
        for name, prop in schema.get("properties", {}).items():
            yield from unbounded(doc, prop, f"{where}.{name}", seen)


@pytest.mark.parametrize("mode", MODES)
def test_every_error_is_a_documented_problem(tmp_path: Path, mode: str) -> None:
    doc = document(tmp_path, mode)
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    missing: list[str] = []
    for path, method, op in operations(doc):
        label = f"{method.upper()} {path}"
        responses = op["responses"]
        wanted = {"400", "422", "429", "503"}
        if path not in UNAUTHENTICATED:
            wanted.add("401")
            if mode == "supabase":
                assert op.get("security") == [{"bearerAuth": []}], label
        if "{" in path:
            wanted.add("404")
        if method in ("post", "put", "patch"):
            wanted |= {"413", "415"}
        missing += [f"{label}: {s}" for s in sorted(wanted - set(responses))]
        for status, response in responses.items():
            if status[0] in "45":
                content = response.get("content", {})
                assert set(content) == {"application/problem+json"}, (label, status)
                assert content["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"}, (label, status)
    assert not missing, missing


@pytest.mark.parametrize("mode", MODES)
def test_every_input_is_bounded(tmp_path: Path, mode: str) -> None:
    doc = document(tmp_path, mode)
    problems: list[str] = []
    for path, method, op in operations(doc):
        label = f"{method.upper()} {path}"
        for parameter in op.get("parameters", []):
            problems += unbounded(doc, parameter["schema"],
                                  f"{label} {parameter['in']}:{parameter['name']}")
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            problems += unbounded(doc, content["schema"], f"{label} body({media})")
    assert not problems, "\n".join(problems)


@pytest.mark.live
def test_405_lists_every_method_of_the_path(tmp_path: Path) -> None:
    app = build_app(make_settings(sqlite_url(tmp_path)))
    calendar = "00000000-0000-4000-8000-000000000000"
    with live_server(app) as server, httpx.Client(base_url=server.url) as client:
        for method, path, allow in (
                ("PUT", f"/v1/calendars/{calendar}/feed", "DELETE, POST"),
                ("OPTIONS", f"/v1/calendars/{calendar}/feed", "DELETE, POST"),
                ("GET", "/v1/calendars/import", "POST"),
                ("DELETE", "/v1/calendars/import", "POST"),
                ("POST", "/v1/calendars", "GET"),
                ("POST", "/v1/channels/tiktok/connection", "DELETE, GET, PUT")):
            res = client.request(method, path)
            assert res.status_code == 405, (method, path, res.text)
            assert res.headers["allow"] == allow, (method, path)
            assert res.json()["code"] == "method_not_allowed"
