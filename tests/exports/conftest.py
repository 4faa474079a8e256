"""Fixtures for export tests: clients with the publish flag on or off."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from postplan.config import Settings


@pytest.fixture
async def live_client(
    client_factory: Callable[..., Any], settings_factory: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    """PUBLISH_SERVICE_ENABLED on: live exports and feeds."""
    async with client_factory(settings_factory(PUBLISH_SERVICE_ENABLED=True)) as c:
        yield c


@pytest.fixture
async def off_client(
    client_factory: Callable[..., Any], settings_factory: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    """PUBLISH_SERVICE_ENABLED off (the default): exports answer dry runs only."""
    async with client_factory(settings_factory(PUBLISH_SERVICE_ENABLED=False)) as c:
        yield c
