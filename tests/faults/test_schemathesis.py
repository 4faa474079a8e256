"""Schemathesis over /openapi.json against the live app: no 5xx, responses match the schema.

The app runs under real uvicorn on loopback (SQLite, a seeded calendar, both flags on so the
live paths are reachable, the worker off). Every non-SSE operation is generated from the
document; the streaming operations (`POST /v1/ai/calendar`, `…/runs/{runId}/events`) are
excluded because their bodies are endless by design — tests/calendars and test_sse_drops cover
them. Checks: `not_a_server_error` and `response_schema_conformance` (a documented status code
must carry a body of its documented shape). `SCHEMATHESIS_EXAMPLES` sets examples per operation.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.fixtures.apps import build_app, live_server, make_settings
from tests.fixtures.databases import sqlite_url
from tests.fixtures.factories import seed_calendar

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "15"))
STREAMING = r"(/ai/calendar$)|(/events$)"


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    db = sqlite_url(tmp)
    asyncio.run(seed_calendar(db, entries=5))
    settings_ = make_settings(db, SPOOL_DIR=str(tmp / "spool"), CALENDAR_SERVICE_ENABLED=True,
                              PUBLISH_SERVICE_ENABLED=True, TOKEN_ENCRYPTION_KEY="k" * 32,
                              TIKTOK_CLIENT_KEY="ck", TIKTOK_CLIENT_SECRET="cs",
                              INSTAGRAM_APP_ID="ia", INSTAGRAM_APP_SECRET="is",
                              TIKTOK_API_BASE="http://127.0.0.1:9",
                              INSTAGRAM_API_BASE="http://127.0.0.1:9")
    with live_server(build_app(settings_)) as server:
        yield server.url


@pytest.fixture(scope="module")
def api_schema(live_api: str) -> Any:
    return schemathesis.openapi.from_url(f"{live_api}/openapi.json").exclude(
        path_regex=STREAMING)


def test_no_5xx_and_responses_match_the_schema(api_schema: Any, live_api: str) -> None:
    """Every operation, EXAMPLES generated cases each; all failures reported together."""
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            case.call_and_validate(base_url=live_api, headers={"X-User-Id": "schemathesis"},
                                   checks=[not_a_server_error, response_schema_conformance])

        try:
            run()
        except Exception as exc:  # collect, then report every failing operation at once
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    print(f"\nschemathesis: {operations} operations x {EXAMPLES} examples, "
          f"{len(failures)} failing")
    assert operations >= 10
    assert not failures, "\n\n".join(failures)
