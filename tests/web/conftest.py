"""Browser tests run on SQLite only: they test the page, not the storage backends."""

from __future__ import annotations

import pytest


@pytest.fixture
def backend() -> str:
    return "sqlite"
