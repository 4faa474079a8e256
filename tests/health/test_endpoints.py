"""Liveness, readiness and metrics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.apps import build_app, in_process_client, make_settings


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"]["current"] == body["checks"]["migrations"]["head"]


async def test_readyz_is_503_before_migrations(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    async with in_process_client(build_app(settings)) as client:
        res = await client.get("/readyz")
    assert res.status_code == 503
    assert res.json()["checks"]["migrations"]["current"] is None


async def test_readyz_is_503_when_database_unreachable() -> None:
    settings = make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    async with in_process_client(build_app(settings)) as client:
        res = await client.get("/readyz")
    assert res.status_code == 503
    assert res.json()["checks"]["database"].startswith("unreachable")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_metrics_exposes_the_contract_series(
    client_factory: Callable[..., Any], settings_factory: Callable[..., Any]
) -> None:
    async with client_factory(settings_factory()) as client:
        text = (await client.get("/metrics")).text
    for name in ("postplan_build_info", "postplan_process_start_time_seconds",
                 'postplan_sse_streams_total{outcome="timeout"}',
                 'postplan_publish_results_total{channel="tiktok",outcome="failed"}',
                 "postplan_adapter_auth_missing_total", "postplan_request_duration_seconds"):
        assert name in text
