"""Per-user bounds: running runs (across processes, counted in the database) and open streams.

One run too many is 429 `too_many_runs`, one stream too many is 429 `too_many_streams`; both
are problem+json with `Retry-After`, and neither writes anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from postplan.config import Settings
from tests.fakes.llm_server import FakeLLMConfig, fake_llm
from tests.fakes.sse_client import live_app, query, read_stream, until, wait_run_settled
from tests.fixtures.apps import free_port, make_settings

pytestmark = [pytest.mark.timeout(60), pytest.mark.live]

BRIEF: dict[str, Any] = {"brand": "Acme", "startDate": "2026-12-01", "days": 7,
                         "channels": ["tiktok"]}
ALICE = {"X-User-Id": "alice"}
BOB = {"X-User-Id": "bob"}


def assert_429(response: httpx.Response, code: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["code"] == code and body["status"] == 429 and body["limit"] >= 1


async def start(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    """POST a generation; on 200 read up to its `run` event and hang up (the run goes on)."""
    async with client.stream("POST", "/v1/ai/calendar", json=BRIEF, headers=headers) as resp:
        if resp.status_code == 200:
            async for line in resp.aiter_lines():
                if line.startswith("data:"):
                    break
        else:
            await resp.aread()
        return resp


async def test_running_runs_per_user_are_bounded_across_processes(
    settings_factory: Callable[..., Settings], db_url: str
) -> None:
    # The model writes one entry and then stalls: runs stay `running` while the test looks.
    with fake_llm(FakeLLMConfig(stall_after=1, stall_seconds=30)) as (fake, base_url):
        settings = settings_factory(CALENDAR_SERVICE_ENABLED=True, LLM_BASE_URL=base_url,
                                    MAX_CONCURRENT_RUNS_PER_USER=2, RUN_ABANDON_SECONDS=2,
                                    AI_TIMEOUT_SECONDS=60)
        async with live_app(settings) as (_a, one), live_app(settings) as (_b, two):
            # FastAPI builds its routes on first use under warnings.catch_warnings, which is
            # process-wide: two servers in this process must not do it at the same moment.
            for client in (one, two):
                assert (await client.get("/v1/calendars", headers=ALICE)).status_code == 200
            # Four at once for one user, two on each process: exactly two may run.
            answers = await asyncio.gather(start(one, ALICE), start(two, ALICE),
                                           start(one, ALICE), start(two, ALICE))
            codes = sorted(r.status_code for r in answers)
            assert codes == [200, 200, 429, 429], codes
            for refused in (r for r in answers if r.status_code == 429):
                assert_429(refused, "too_many_runs")
            runs = await query(db_url, "SELECT user_id, status FROM calendar_runs")
            assert runs == [{"user_id": "alice", "status": "running"}] * 2
            # Another user is not affected.
            assert (await start(two, BOB)).status_code == 200
            # Once alice's runs end (nobody listens: abandoned), she may start again.
            listing = (await one.get("/v1/calendars", headers=ALICE)).json()["items"]
            assert len(listing) == 2
            for calendar in listing:
                settled = await wait_run_settled(one, calendar["latestRunId"], headers=ALICE)
                assert settled["status"] == "cancelled"
            assert (await start(one, ALICE)).status_code == 200
        assert fake.calls == 4
    statuses = await query(db_url, "SELECT count(*) AS n FROM calendar_runs WHERE user_id='alice'")
    assert statuses == [{"n": 3}]


@asynccontextmanager
async def held(client: httpx.AsyncClient, url: str,
               headers: dict[str, str]) -> AsyncIterator[httpx.Response]:
    """A resume stream held open (its status is known once its headers arrive)."""
    async with client.stream("GET", url, headers=headers) as resp:
        if resp.status_code != 200:
            await resp.aread()
        yield resp


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # counted in memory
async def test_open_streams_per_run_and_per_user_are_bounded(
    settings_factory: Callable[..., Settings]
) -> None:
    with fake_llm(FakeLLMConfig(stall_after=1, stall_seconds=30)) as (_fake, base_url):
        settings = settings_factory(CALENDAR_SERVICE_ENABLED=True, LLM_BASE_URL=base_url,
                                    MAX_STREAMS_PER_RUN=2, MAX_STREAMS_PER_USER=3,
                                    AI_TIMEOUT_SECONDS=60)
        async with live_app(settings) as (_app, client):
            first = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF,
                                      headers=ALICE, stop_after_entries=1)
            second = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF,
                                       headers=ALICE, stop_after_entries=1)
            url_1 = f"/v1/ai/calendar/runs/{first[0].data['runId']}/events"
            url_2 = f"/v1/ai/calendar/runs/{second[0].data['runId']}/events"
            async with AsyncExitStack() as stack:
                a = await stack.enter_async_context(held(client, url_1, ALICE))
                b = await stack.enter_async_context(held(client, url_1, ALICE))
                assert a.status_code == b.status_code == 200
                assert_429(await client.get(url_1, headers=ALICE), "too_many_streams")
                c = await stack.enter_async_context(held(client, url_2, ALICE))
                assert c.status_code == 200
                # Alice holds three streams: a fourth, on any run, is refused; Bob is not
                # limited by Alice's streams (his run is his own).
                assert_429(await client.get(url_2, headers=ALICE), "too_many_streams")
                assert_429(await client.post("/v1/ai/calendar", json=BRIEF, headers=ALICE),
                           "too_many_streams")
                bob = await read_stream(client, "POST", "/v1/ai/calendar", json_body=BRIEF,
                                        headers=BOB, stop_after_entries=1)
                assert bob[0].event == "run"
            # The streams closed: their places are free again (once the server has seen the
            # disconnects, which it learns asynchronously).
            for _ in range(100):
                async with held(client, url_1, ALICE) as again:
                    if again.status_code != 429:
                        break
                await asyncio.sleep(0.05)
            assert again.status_code == 200
        runs = await query(settings.database_url, "SELECT count(*) AS n FROM calendar_runs")
    assert runs == [{"n": 3}]


async def test_dry_runs_are_bounded_and_abandoned_while_the_database_is_down(
    tmp_path: Path,
) -> None:
    unreachable = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/postplan"
    with fake_llm(FakeLLMConfig(stall_after=1, stall_seconds=30)) as (fake, base_url):
        settings = make_settings(unreachable, CALENDAR_SERVICE_ENABLED=True,
                                 LLM_BASE_URL=base_url, MAX_CONCURRENT_RUNS_PER_USER=1,
                                 RUN_ABANDON_SECONDS=0.5, SPOOL_DIR=str(tmp_path / "spool"))
        async with live_app(settings) as (_app, client):
            assert (await start(client, ALICE)).status_code == 200  # a dry run, counted here
            assert_429(await client.post("/v1/ai/calendar", json=BRIEF, headers=ALICE),
                       "too_many_runs")
            # Nobody listens: the dry run is stopped, its model call closed, its place freed.
            for _ in range(200):
                again = await start(client, ALICE)
                if again.status_code == 200:
                    break
                await asyncio.sleep(0.05)
            assert again.status_code == 200
        assert fake.calls == 2
        assert await until(lambda: fake.closed_early == 2), fake.closed_early
        assert fake.finished == 0
