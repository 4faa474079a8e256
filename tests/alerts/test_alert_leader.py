"""ALERTS_IN_PROCESS: off evaluates nothing in-process; leader evaluates in one process of the
cluster (a lease row), and another takes over when the leader stops."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI

from postplan.alerts.feed import alerts_lifespan
from postplan.core.db import create_engine
from tests.fixtures.apps import make_settings


def _app(db_url: str, mode: str) -> FastAPI:
    app = FastAPI()
    app.state.settings = make_settings(db_url, ALERTS_IN_PROCESS=mode)
    app.state.engine = create_engine(db_url)
    return app


@pytest.fixture
def backend() -> str:
    """Postgres: the cluster case (on SQLite the one process always leads)."""
    return "postgres"


@pytest.mark.postgres
async def test_one_leader_among_processes_and_a_takeover(db_url: str) -> None:
    apps = [_app(db_url, "leader") for _ in range(3)]
    off = _app(db_url, "off")
    contexts = [alerts_lifespan(app, interval=0.1) for app in apps]
    open_ = set(range(len(apps)))
    try:
        async with alerts_lifespan(off, interval=0.1):
            for ctx in contexts:
                await ctx.__aenter__()
            await asyncio.sleep(1.0)
            leaders = [i for i, a in enumerate(apps) if a.state.alerts_leader]
            assert len(leaders) == 1
            assert off.state.alerts_leader is False
            # The leader stops (and hands the lease back): one of the others leads.
            await contexts[leaders[0]].__aexit__(None, None, None)
            open_.discard(leaders[0])
            await asyncio.sleep(1.0)
            assert sum(apps[i].state.alerts_leader for i in open_) == 1
    finally:
        for i in open_:
            await contexts[i].__aexit__(None, None, None)
        for app in (*apps, off):
            await app.state.engine.dispose()
