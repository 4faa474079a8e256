"""The Supabase copy, applied to the real Postgres: a signed-in user reads their own server-owned
rows and cannot write any of them (no INSERT, UPDATE, DELETE or TRUNCATE), nor read a secret;
the service role still writes. Rows are seeded by the table owner, as postplan itself writes."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.supabase.test_rls import SQL_DIR, _as_user, apply_supabase_sql, supabase_db

__all__ = ["supabase_db"]

pytestmark = pytest.mark.postgres

#: Tables only postplan writes; a user may at most read their own rows.
SERVER_OWNED = ("calendar_entries", "entry_revisions", "calendar_runs", "publish_intents",
                "publish_attempts", "idempotency_keys", "channel_connections", "oauth_states")
#: Readable by their owner (own rows only); the others not at all.
READABLE = tuple(t for t in SERVER_OWNED if t != "oauth_states")
#: A fresh row of each table must not collide with the seeded one on a unique key, so that on
#: SQL that let users write, the INSERT would really go through.
FRESH: dict[str, dict[str, Any]] = {
    "entry_revisions": {"version": 2},
    "publish_intents": {"status": "failed", "platform_post_id": None},
    "idempotency_keys": {"key": "k-2"},
    "channel_connections": {"channel": "instagram"},
    "oauth_states": {"state_hash": "fresh"},
}

REQUEST = {"intent_id": "", "channel": "tiktok", "format": "video", "caption": "hi",
           "hashtags": [], "media": [{"url": "https://cdn.example.com/a.mp4", "type": "video"}],
           "scheduled_at": "2026-12-01T10:00:00+00:00", "account_id": "acct",
           "privacy_level": "SELF_ONLY", "options": {}}


async def _seed(conn: asyncpg.Connection, user: str) -> dict[str, uuid.UUID]:
    """One row per table for `user`, written as the owner (postplan's own connection)."""
    ids = {t: uuid.uuid4() for t in ("calendars", *SERVER_OWNED)}
    await conn.execute("RESET ROLE")
    await conn.execute(
        "INSERT INTO calendars (id, user_id, name, brief, timezone, feed_token_hash, created_at,"
        " updated_at) VALUES ($1, $2, 'cal', '{}', 'UTC', $3, now(), now())",
        ids["calendars"], user, uuid.uuid4().hex)
    await conn.execute(
        "INSERT INTO calendar_runs (id, calendar_id, user_id, mode, status, dry_run, brief,"
        " expected_entries, entry_count, created_at, updated_at)"
        " VALUES ($1, $2, $3, 'generate', 'completed', false, '{}', 1, 1, now(), now())",
        ids["calendar_runs"], ids["calendars"], user)
    await conn.execute(
        "INSERT INTO calendar_entries (id, calendar_id, run_id, user_id, seq, channel, format,"
        " scheduled_at, timezone, pillar, hook, caption, hashtags, call_to_action, asset_notes,"
        " media, version, edited, created_at, updated_at) VALUES ($1, $2, $3, $4, 0, 'tiktok',"
        " 'video', now(), 'UTC', '', '', 'hi', '[]', '', '', '[]', 1, false, now(), now())",
        ids["calendar_entries"], ids["calendars"], ids["calendar_runs"], user)
    await conn.execute(
        "INSERT INTO entry_revisions (id, entry_id, calendar_id, user_id, version, source, data,"
        " created_at) VALUES ($1, $2, $3, $4, 1, 'generated', '{}', now())",
        ids["entry_revisions"], ids["calendar_entries"], ids["calendars"], user)
    request = json.dumps({**REQUEST, "intent_id": str(ids["publish_intents"])})
    await conn.execute(
        "INSERT INTO publish_intents (id, calendar_id, entry_id, user_id, channel, payload,"
        " status, dry_run, \"when\", entry_version, attempts, platform_handle, platform_post_id,"
        " request, created_at, updated_at) VALUES ($1, $2, $3, $4, 'tiktok', '{}', 'published',"
        " false, 'now', 1, 1, 'pub-1', 'post-1', $5, now(), now())",
        ids["publish_intents"], ids["calendars"], ids["calendar_entries"], user, request)
    await conn.execute(
        "INSERT INTO publish_attempts (id, intent_id, user_id, attempt_no, step, outcome,"
        " started_at) VALUES ($1, $2, $3, 1, 'publish', 'published', now())",
        ids["publish_attempts"], ids["publish_intents"], user)
    await conn.execute(
        "INSERT INTO idempotency_keys (id, user_id, key, scope, request_hash, state, created_at,"
        " updated_at) VALUES ($1, $2, 'k-1', 'publish', 'h', 'done', now(), now())",
        ids["idempotency_keys"], user)
    await conn.execute(
        "INSERT INTO channel_connections (id, user_id, channel, account_id, access_token_enc,"
        " refresh_token_enc, status, created_at, updated_at) VALUES ($1, $2, 'tiktok', 'acct',"
        " 'enc-access', 'enc-refresh', 'needs_reauth', now(), now())",
        ids["channel_connections"], user)
    await conn.execute(
        "INSERT INTO oauth_states (id, user_id, channel, state_hash, code_verifier_enc,"
        " redirect_uri, expires_at, created_at) VALUES ($1, $2, 'tiktok', $3, 'enc-v',"
        " 'http://127.0.0.1/cb', now() + interval '10 minutes', now())",
        ids["oauth_states"], user, uuid.uuid4().hex)
    return ids


async def _fresh_insert(conn: asyncpg.Connection, table: str,
                        row_id: uuid.UUID) -> tuple[str, list[Any]]:
    """An INSERT of a new row like the seeded one (same owner), as SQL and arguments."""
    await conn.execute("RESET ROLE")
    row = dict(await conn.fetchrow(f"SELECT * FROM {table} WHERE id = $1", row_id))
    row.update({"id": uuid.uuid4(), **FRESH.get(table, {})})
    names = ", ".join(f'"{k}"' for k in row)
    marks = ", ".join(f"${i + 1}" for i in range(len(row)))
    return f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values())


async def _denied(conn: asyncpg.Connection, sql: str, *args: Any) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute(sql, *args)


def _run(supabase_db: str, body: Callable[[asyncpg.Connection], Awaitable[None]]) -> None:
    async def scenario() -> None:
        conn = await asyncpg.connect(supabase_db)
        try:
            await apply_supabase_sql(conn)
            await body(conn)
        finally:
            await conn.close()

    asyncio.run(scenario())


def test_users_cannot_write_server_owned_rows_and_only_read_their_own(supabase_db: str) -> None:
    async def body(conn: asyncpg.Connection) -> None:
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        ids = await _seed(conn, a)
        await _seed(conn, b)
        inserts = {t: await _fresh_insert(conn, t, ids[t]) for t in SERVER_OWNED}
        intent = ids["publish_intents"]

        await _as_user(conn, a)
        for table in SERVER_OWNED:
            sql, args = inserts[table]
            await _denied(conn, sql, *args)
            await _denied(conn, f"UPDATE {table} SET user_id = user_id WHERE id = $1", ids[table])
            await _denied(conn, f"DELETE FROM {table} WHERE id = $1", ids[table])
            await _denied(conn, f"TRUNCATE {table} CASCADE")
        # What the probe did: a published intent back to `pending`, its request changed.
        await _denied(conn, "UPDATE publish_intents SET status = 'pending', run_after = now(),"
                            " platform_post_id = NULL WHERE id = $1", intent)
        await _denied(conn, "UPDATE publish_intents SET request = jsonb_set(request,"
                            " '{media,0,url}', '\"http://169.254.169.254/x\"') WHERE id = $1",
                      intent)
        await _denied(conn, "UPDATE channel_connections SET status = 'active' WHERE id = $1",
                      ids["channel_connections"])
        # Calendars stay the user's, but not postplan's columns of them.
        await _denied(conn, "UPDATE calendars SET feed_token_hash = 'x' WHERE id = $1",
                      ids["calendars"])
        await _denied(conn, "UPDATE calendars SET latest_run_id = NULL WHERE id = $1",
                      ids["calendars"])
        await _denied(conn, "INSERT INTO calendars (id, user_id, name, brief, timezone,"
                            " feed_token_hash, created_at, updated_at) VALUES ($1, $2, 'c',"
                            " '{}', 'UTC', 'known', now(), now())", uuid.uuid4(), a)
        assert await conn.execute("UPDATE calendars SET name = 'renamed' WHERE id = $1",
                                  ids["calendars"]) == "UPDATE 1"

        # Reading: own rows only, and never a secret.
        for table in READABLE:
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 1, table
        assert await conn.fetchval("SELECT status FROM publish_intents") == "published"
        assert await conn.fetchval("SELECT request->>'caption' FROM publish_intents") == "hi"
        assert await conn.fetchval("SELECT status FROM channel_connections") == "needs_reauth"
        for secret in ("access_token_enc", "refresh_token_enc", "*"):
            await _denied(conn, f"SELECT {secret} FROM channel_connections")
        await _denied(conn, "SELECT feed_token_hash FROM calendars")
        await _denied(conn, "SELECT count(*) FROM oauth_states")

        await _as_user(conn, None)
        for table in ("calendars", *SERVER_OWNED):
            await _denied(conn, f"SELECT count(*) FROM {table}")

        # The service role (and postplan, the owner) still write everything.
        await conn.execute("RESET ROLE")
        await conn.execute("SET ROLE service_role")
        for table in SERVER_OWNED:
            sql, args = inserts[table]
            await conn.execute(sql, *args)
        assert await conn.execute("UPDATE publish_intents SET status = 'failed' WHERE id = $1",
                                  intent) == "UPDATE 1"
        assert await conn.execute("DELETE FROM idempotency_keys WHERE id = $1",
                                  ids["idempotency_keys"]) == "DELETE 1"
        assert await conn.fetchval("SELECT access_token_enc FROM channel_connections"
                                   " WHERE id = $1", ids["channel_connections"]) == "enc-access"

        await _as_user(conn, a)  # the row the service role changed is still readable, not more
        assert await conn.fetchval("SELECT status FROM publish_intents WHERE id = $1",
                                   intent) == "failed"

    _run(supabase_db, body)


#: What the first Supabase copy granted: every table writable by its owner.
LEGACY_ACCESS = """
CREATE POLICY {t}_owner_insert ON {t} FOR INSERT TO authenticated
  WITH CHECK (user_id = (select auth.uid())::text);
CREATE POLICY {t}_owner_update ON {t} FOR UPDATE TO authenticated
  USING (user_id = (select auth.uid())::text) WITH CHECK (user_id = (select auth.uid())::text);
CREATE POLICY {t}_owner_delete ON {t} FOR DELETE TO authenticated
  USING (user_id = (select auth.uid())::text);
GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO authenticated;
"""


def test_a_project_that_applied_the_first_copy_is_closed_by_the_access_file(
    supabase_db: str,
) -> None:
    """`supabase db push` runs only files it has not run: the fix must be a file of its own."""
    access = sorted(SQL_DIR.glob("*_access.sql"))
    assert access and access[-1] == sorted(SQL_DIR.glob("*.sql"))[-1]

    async def body(conn: asyncpg.Connection) -> None:
        for table in SERVER_OWNED:
            await conn.execute(f"DROP POLICY IF EXISTS {table}_owner_insert ON {table};"
                               f"DROP POLICY IF EXISTS {table}_owner_update ON {table};"
                               f"DROP POLICY IF EXISTS {table}_owner_delete ON {table};"
                               + LEGACY_ACCESS.format(t=table))
        a = str(uuid.uuid4())
        ids = await _seed(conn, a)
        await _as_user(conn, a)
        assert await conn.execute("UPDATE publish_intents SET status = 'pending' WHERE id = $1",
                                  ids["publish_intents"]) == "UPDATE 1"  # the old hole
        await conn.execute("RESET ROLE")
        await conn.execute(access[-1].read_text())
        await _as_user(conn, a)
        for table in SERVER_OWNED:
            await _denied(conn, f"UPDATE {table} SET user_id = user_id WHERE id = $1", ids[table])
        assert await conn.fetchval("SELECT count(*) FROM publish_intents") == 1

    _run(supabase_db, body)


def test_the_committed_sql_is_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_supabase_sql", Path(__file__).resolve().parents[2] / "scripts" / "gen_supabase_sql.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = gen  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(gen)
    finally:
        del sys.modules[spec.name]
    for path, text in gen.render().items():
        assert path.exists() and path.read_text() == text, (
            f"{path.name} is stale: run `python scripts/gen_supabase_sql.py`")
