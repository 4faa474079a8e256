"""Every error leaves as problem+json with a code and requestId; never a stack trace."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter

from tests.fixtures.apps import build_app, in_process_client


def _is_problem(res: httpx.Response) -> dict[str, object]:
    assert res.headers["content-type"].startswith("application/problem+json"), res.text
    body: dict[str, object] = res.json()
    assert body["status"] == res.status_code
    assert body["requestId"] == res.headers["x-request-id"]
    assert isinstance(body["code"], str)
    return body


async def test_malformed_json(client: httpx.AsyncClient) -> None:
    res = await client.patch(
        "/v1/calendars/00000000-0000-0000-0000-000000000000/entries/"
        "00000000-0000-0000-0000-000000000000",
        content=b'{"hook": "unterminated', headers={"content-type": "application/json"})
    assert res.status_code == 400
    assert _is_problem(res)["code"] == "malformed_json"


async def test_wrong_content_type_is_415(client: httpx.AsyncClient) -> None:
    res = await client.patch(
        "/v1/calendars/00000000-0000-0000-0000-000000000000/entries/"
        "00000000-0000-0000-0000-000000000000",
        content=b"hook=x", headers={"content-type": "application/x-www-form-urlencoded"})
    assert res.status_code == 415
    assert _is_problem(res)["code"] == "unsupported_media_type"


async def test_ten_megabyte_body_is_413(client: httpx.AsyncClient) -> None:
    body = b'{"caption": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    res = await client.patch(
        "/v1/calendars/00000000-0000-0000-0000-000000000000/entries/"
        "00000000-0000-0000-0000-000000000000",
        content=body, headers={"content-type": "application/json"})
    assert res.status_code == 413
    assert _is_problem(res)["code"] == "body_too_large"


async def test_chunked_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 100_000

    res = await client.patch(
        "/v1/calendars/00000000-0000-0000-0000-000000000000/entries/"
        "00000000-0000-0000-0000-000000000000",
        content=chunks(), headers={"content-type": "application/json"})
    assert res.status_code == 413


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    res = await client.get("/v1/nowhere")
    assert res.status_code == 404
    assert _is_problem(res)["code"] == "not_found"
    res = await client.delete("/v1/calendars")
    assert res.status_code == 405
    assert _is_problem(res)["code"] == "method_not_allowed"


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    res = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert res.headers["x-request-id"] == "abc-123"
    res = await client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert res.headers["x-request-id"] != "bad id with spaces"
    assert len(res.headers["x-request-id"]) == 32


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_unexpected_error_is_500_problem_without_trace(settings_factory) -> None:  # type: ignore[no-untyped-def]
    app = build_app(settings_factory())
    boom = APIRouter()

    @boom.get("/boom")
    async def explode() -> None:
        raise RuntimeError("secret internal detail")

    app.include_router(boom)
    async with in_process_client(app) as client:
        res = await client.get("/boom")
    assert res.status_code == 500
    body = _is_problem(res)
    assert body["code"] == "internal_error"
    assert "secret internal detail" not in res.text
    assert "Traceback" not in res.text
