"""Shared fixtures. `backend` runs storage tests on SQLite and on the machine's Postgres;
`transport` runs HTTP tests in-process and through real uvicorn on loopback."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from postplan.config import Settings
from postplan.core.logging import configure_logging
from tests.fixtures.apps import build_app, in_process_client, live_server, make_settings
from tests.fixtures.databases import pg_database, sqlite_url, truncate_pg

__all__ = ["pg_database"]

# JSON logs through the same pipeline as production; pytest captures stderr per test.
configure_logging("INFO")

# Tests never read the developer's environment for service settings.
for _name in list(os.environ):
    if _name in {"CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED", "FLAGS_FILE",
                 "LLM_BASE_URL", "DATABASE_URL", "AUTH_MODE", "LOG_FILE"}:
        os.environ.pop(_name)


@pytest.fixture(autouse=True)
def _json_logs_on_stderr() -> None:
    """Every test starts with INFO JSON logs on stderr, whatever an earlier test (a CLI command
    run in-process with LOG_LEVEL or LOG_FILE, say) configured."""
    configure_logging("INFO")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated, empty database of the `backend` kind."""
    if backend == "sqlite":
        yield sqlite_url(tmp_path)
        return
    url = request.getfixturevalue("pg_database")
    truncate_pg(url)
    yield url


@pytest.fixture
def settings_factory(db_url: str, tmp_path: Path) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        overrides.setdefault("SPOOL_DIR", str(tmp_path / "spool"))
        overrides.setdefault("MEDIA_DIR", str(tmp_path / "media"))
        return make_settings(db_url, **overrides)

    return factory


@pytest.fixture(params=["inprocess", "live"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client_factory(
    transport: str,
) -> Callable[..., Any]:
    """Returns an async context manager giving an httpx client for the given settings."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def factory(settings: Settings, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = build_app(settings, **kwargs)
        if transport == "inprocess":
            async with in_process_client(app) as client:
                yield client
        else:
            with live_server(app) as server:
                async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                    yield client

    return factory


@pytest.fixture
async def client(
    client_factory: Callable[..., Any], settings_factory: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the default settings, over both databases and both transports."""
    async with client_factory(settings_factory()) as c:
        yield c
