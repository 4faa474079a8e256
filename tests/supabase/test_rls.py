"""The Supabase copy of the schema, applied to the real Postgres with a stand-in for Supabase's
`auth` schema and roles: user A can neither read nor change user B's rows."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.fixtures.databases import PG_ADMIN_DSN, _admin, _require_pg

pytestmark = pytest.mark.postgres

SQL_DIR = Path(__file__).resolve().parents[2] / "supabase" / "migrations"

# What Supabase provides before any project migration: its roles (`service_role` bypasses RLS),
# auth.uid() as Supabase defines it (the JWT `sub`, from PostgREST's `request.jwt.claims` or the
# older `request.jwt.claim.sub`), and its default privileges: every table created in `public`
# is granted to all three API roles, so a migration must revoke what users may not do.
AUTH_STANDIN = """
DO $$ BEGIN
  CREATE ROLE anon NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN
  CREATE ROLE authenticated NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN
  CREATE ROLE service_role NOLOGIN BYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
CREATE SCHEMA IF NOT EXISTS auth;
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
"""


@pytest.fixture
def supabase_db() -> Iterator[str]:
    _require_pg()
    name = f"postplan_supabase_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _as_user(conn: asyncpg.Connection, sub: str | None) -> None:
    """Act as PostgREST does for a request: the JWT's claims in `request.jwt.claims`, then the
    role the JWT names (`authenticated`), or `anon` without a JWT."""
    await conn.execute("RESET ROLE")
    claims = json.dumps({"sub": sub, "role": "authenticated"}) if sub else ""
    await conn.execute("SELECT set_config('request.jwt.claims', $1, false)", claims)
    await conn.execute("SET ROLE authenticated" if sub else "SET ROLE anon")


async def apply_supabase_sql(conn: asyncpg.Connection) -> None:
    """Supabase's stand-in, then every migration file in order."""
    files = sorted(SQL_DIR.glob("*.sql"))
    assert files
    await conn.execute(AUTH_STANDIN)
    for path in files:
        await conn.execute(path.read_text())


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
