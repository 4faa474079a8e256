"""Helpers for generation tests: a live app on loopback, an SSE reader, database counts."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from httpx_sse import aconnect_sse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from postplan.config import Settings
from tests.fixtures.apps import build_app, live_server


@dataclass
class Received:
    event: str
    data: dict[str, Any]
    id: str
    at: float  # time.perf_counter() when the event was parsed


@asynccontextmanager
async def live_app(settings: Settings,
                   **state: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app served by real uvicorn on 127.0.0.1, and a client for it."""
    app = build_app(settings)
    for key, value in state.items():
        setattr(app.state, key, value)
    with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            yield app, client


async def read_stream(client: httpx.AsyncClient, method: str, url: str, *,
                      json_body: Any = None, headers: dict[str, str] | None = None,
                      stop_after_entries: int | None = None) -> list[Received]:
    """Read an event stream to its end (or until `stop_after_entries` entries, then hang up)."""
    got: list[Received] = []
    entries = 0
    kwargs: dict[str, Any] = {"headers": headers or {}}
    if json_body is not None:
        kwargs["json"] = json_body
    async with aconnect_sse(client, method, url, **kwargs) as source:
        assert source.response.status_code == 200, await source.response.aread()
        async for sse in source.aiter_sse():
            got.append(Received(sse.event, json.loads(sse.data), sse.id, time.perf_counter()))
            if sse.event == "entry":
                entries += 1
                if stop_after_entries is not None and entries >= stop_after_entries:
                    break
    return got


def of(events: list[Received], name: str) -> list[Received]:
    return [e for e in events if e.event == name]


async def wait_run_settled(client: httpx.AsyncClient, run_id: str,
                           headers: dict[str, str] | None = None,
                           within: float = 20.0) -> dict[str, Any]:
    """Poll the run endpoint until the run has left `running`."""
    deadline = time.monotonic() + within
    while True:
        body: dict[str, Any] = (await client.get(f"/v1/ai/calendar/runs/{run_id}",
                                                 headers=headers or {})).json()
        if body.get("status") != "running" or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.05)


async def table_counts(db_url: str) -> dict[str, int]:
    """Row counts of the generation tables."""
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            out = {}
            for table in ("calendars", "calendar_runs", "calendar_entries", "entry_revisions"):
                out[table] = int((await conn.execute(
                    text(f"SELECT count(*) FROM {table}"))).scalar_one())
            return out
    finally:
        await engine.dispose()


async def query(db_url: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of a read query, as dicts."""
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text(sql), params)
            return [dict(r._mapping) for r in result]
    finally:
        await engine.dispose()


async def execute(db_url: str, sql: str, **params: Any) -> None:
    """Run one write statement and commit."""
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql), params)
    finally:
        await engine.dispose()


async def until(check: Callable[[], bool], within: float = 15.0) -> bool:
    """Poll `check` until it holds or `within` seconds pass; the result of the last look (for
    what another thread, e.g. a fake server, learns asynchronously)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True
