"""Channel tests run against the fake platform on real uvicorn (tests/fakes/channels_server.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fakes.channels_server import fake_channels, fake_channels_server

__all__ = ["fake_channels", "fake_channels_server"]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The shared client adapters get in production is one per process; here one per test."""
    async with httpx.AsyncClient() as client:
        yield client
