"""The Supabase copy of the schema, applied to the real Postgres with a stand-in for Supabase's
`auth` schema and roles: user A can neither read nor change user B's rows."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.fixtures.databases import PG_ADMIN_DSN, _admin, _require_pg

pytestmark = pytest.mark.postgres

SQL_DIR = Path(__file__).resolve().parents[2] / "supabase" / "migrations"

# What Supabase provides before any project migration: roles and auth.uid() reading the JWT sub.
AUTH_STANDIN = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN; END IF;
END $$;
CREATE SCHEMA IF NOT EXISTS auth;
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated;
GRANT USAGE ON SCHEMA public TO anon, authenticated;
"""


@pytest.fixture
def supabase_db() -> Iterator[str]:
    _require_pg()
    name = f"postplan_supabase_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _as_user(conn: asyncpg.Connection, sub: str | None) -> None:
    await conn.execute("RESET ROLE")
    await conn.execute("SELECT set_config('request.jwt.claim.sub', $1, false)", sub or "")
    await conn.execute("SET ROLE authenticated" if sub else "SET ROLE anon")


def test_row_level_security_isolates_users(supabase_db: str) -> None:
    files = sorted(SQL_DIR.glob("*.sql"))
    assert files

    async def scenario() -> None:
        conn = await asyncpg.connect(supabase_db)
        try:
            await conn.execute(AUTH_STANDIN)
            for path in files:
                await conn.execute(path.read_text())
            # Applying twice is harmless (idempotent DDL).
            for path in files:
                await conn.execute(path.read_text())

            a, b = str(uuid.uuid4()), str(uuid.uuid4())
            await _as_user(conn, a)
            cal_a = await conn.fetchval(
                "INSERT INTO calendars (id, user_id, name, brief, timezone, created_at, updated_at)"
                " VALUES ($1, $2, 'A', '{}', 'UTC', now(), now()) RETURNING id",
                uuid.uuid4(), a)
            # A cannot write a row that claims to be B's.
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(
                    "INSERT INTO calendars (id, user_id, name, brief, timezone, created_at,"
                    " updated_at) VALUES ($1, $2, 'forged', '{}', 'UTC', now(), now())",
                    uuid.uuid4(), b)

            await _as_user(conn, b)
            assert await conn.fetchval("SELECT count(*) FROM calendars") == 0
            assert await conn.fetchval(
                "SELECT count(*) FROM calendars WHERE id = $1", cal_a) == 0
            updated = await conn.execute("UPDATE calendars SET name = 'pwned' WHERE id = $1",
                                         cal_a)
            assert updated == "UPDATE 0"
            deleted = await conn.execute("DELETE FROM calendars WHERE id = $1", cal_a)
            assert deleted == "DELETE 0"
            # B cannot take A's row over either.
            await _as_user(conn, a)
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("UPDATE calendars SET user_id = $1 WHERE id = $2", b, cal_a)

            await _as_user(conn, None)  # anon sees nothing and may not write
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetchval("SELECT count(*) FROM calendars")

            await _as_user(conn, a)
            assert await conn.fetchval("SELECT name FROM calendars WHERE id = $1", cal_a) == "A"

            await conn.execute("RESET ROLE")
            tables = await conn.fetch(
                "SELECT tablename, rowsecurity FROM pg_tables WHERE schemaname = 'public'")
            assert tables and all(t["rowsecurity"] for t in tables)
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_supabase_copy_matches_the_alembic_schema(supabase_db: str, pg_database: str) -> None:
    async def columns(dsn: str) -> dict[str, set[str]]:
        conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            rows = await conn.fetch(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name <> 'alembic_version'")
        finally:
            await conn.close()
        out: dict[str, set[str]] = {}
        for r in rows:
            out.setdefault(r["table_name"], set()).add(r["column_name"])
        return out

    async def apply() -> None:
        conn = await asyncpg.connect(supabase_db)
        try:
            await conn.execute(AUTH_STANDIN)
            for path in sorted(SQL_DIR.glob("*.sql")):
                await conn.execute(path.read_text())
        finally:
            await conn.close()

    asyncio.run(apply())
    assert asyncio.run(columns(supabase_db)) == asyncio.run(columns(pg_database)), (
        "run `python scripts/gen_supabase_sql.py` after adding a migration"
    )
