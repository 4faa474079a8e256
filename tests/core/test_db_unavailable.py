"""Only a real connectivity failure counts as "the database is down".

Callers turn an outage into a dry run (generation) or a spooled request (publish); a statement
the database refuses — a NUL in text, a constraint, a trigger — must fail loudly instead. One
such refusal (NUL in a brief on Postgres) used to be taken for an outage and silently turned a
saved run into a dry run.
"""

from __future__ import annotations

import errno
import socket
import uuid
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from postplan.config import Settings
from postplan.core.db import create_engine, is_db_unavailable
from tests.fixtures.databases import PG_ADMIN_DSN

pytestmark = [pytest.mark.timeout(60)]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _caught(coro: Any) -> BaseException:
    try:
        await coro
    except BaseException as exc:  # the point: what was raised
        return exc
    raise AssertionError("no error")


async def test_connection_failures_are_outages(tmp_path: Path) -> None:
    port = _closed_port()
    refused = await _caught(asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/x",
                                            timeout=3))
    assert is_db_unavailable(refused)
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x")
    try:
        wrapped = await _caught(engine.connect().__aenter__())
    finally:
        await engine.dispose()
    assert is_db_unavailable(wrapped)
    gone = await _caught(asyncpg.connect(host=str(tmp_path / "no-server"), user="postgres",
                                         database="x", timeout=3))
    assert isinstance(gone, FileNotFoundError) and is_db_unavailable(gone)
    assert not is_db_unavailable(FileNotFoundError(errno.ENOENT, "missing", "/spool/file"))
    assert is_db_unavailable(socket.gaierror(socket.EAI_NONAME, "no such host"))
    assert is_db_unavailable(OSError(errno.EHOSTUNREACH, "no route to host"))


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_statements_the_database_refuses_are_not_outages(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            nul_text = await _caught(conn.execute(text("SELECT CAST(:v AS text)"),
                                                  {"v": "a\x00b"}))
            await conn.rollback()
            nul_json = await _caught(conn.execute(text("SELECT CAST(:v AS jsonb)"),
                                                  {"v": '{"k": "\\u0000"}'}))
            await conn.rollback()
            syntax = await _caught(conn.execute(text("SELEC 1")))
    finally:
        await engine.dispose()
    for refused in (nul_text, nul_json, syntax):
        assert not is_db_unavailable(refused), repr(refused)
    long_zone = await _caught(_load_zone("A" * 5000))
    assert isinstance(long_zone, OSError) and long_zone.errno == errno.ENAMETOOLONG
    assert not is_db_unavailable(long_zone)


async def _load_zone(name: str) -> None:
    zoneinfo.ZoneInfo(name)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.parametrize("transport", ["live"], indirect=True)
async def test_a_refused_write_is_not_turned_into_a_dry_run(
        client_factory: Callable[..., Any], settings_factory: Callable[..., Settings],
        db_url: str) -> None:
    """The database refuses the run's first write (a trigger raising the error PostgreSQL gives
    a NUL byte, 22021): the answer is an error, not a "saved" stream that saved nothing."""
    name = f"refuse_{uuid.uuid4().hex[:8]}"
    dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + db_url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(dsn)
    await conn.execute(f"""
        CREATE FUNCTION {name}() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION 'invalid byte sequence' USING ERRCODE = '22021'; END $$
        LANGUAGE plpgsql;
        CREATE TRIGGER {name} BEFORE INSERT ON calendars FOR EACH ROW EXECUTE FUNCTION {name}();
    """)
    try:
        settings = settings_factory(CALENDAR_SERVICE_ENABLED=True)
        async with client_factory(settings) as client:
            res = await client.post("/v1/ai/calendar", json={
                "brand": "Acme", "startDate": "2026-12-01", "days": 3})
            assert res.status_code == 500, res.text[:300]
            assert res.headers["content-type"].startswith("application/problem+json")
            assert res.json()["code"] == "run_not_saved"
            runs: httpx.Response = await client.get("/v1/calendars")
            assert runs.json()["items"] == []
    finally:
        await conn.execute(f"DROP TRIGGER IF EXISTS {name} ON calendars; "
                           f"DROP FUNCTION IF EXISTS {name}();")
        await conn.close()
