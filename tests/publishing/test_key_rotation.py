"""Rotating TOKEN_ENCRYPTION_KEY on a real database: the app reads tokens under old and new keys,
`postplan tokens reencrypt` moves every stored secret to the new key, then the old key can go."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from postplan.core.crypto import TokenCipher, new_key
from postplan.core.db import create_engine
from postplan.core.rotation import reencrypt_columns
from postplan.publishing.connections.rotation import ENCRYPTED
from postplan.publishing.tables import connections
from tests.fixtures.apps import make_settings
from tests.publishing.helpers import add_connection

OLD = "the old passphrase"


async def _stored(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(connections.c.access_token_enc,
                                              connections.c.refresh_token_enc))).all()
    finally:
        await engine.dispose()
    return [v for row in rows for v in row if v]


def _cli(url: str, key: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "TOKEN_ENCRYPTION_KEY": key}
    return subprocess.run([sys.executable, "-m", "postplan.cli", "tokens", "reencrypt"],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)


async def test_reencrypt_moves_every_token_to_the_new_key(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, TOKEN_ENCRYPTION_KEY=OLD)
    engine = create_engine(db_url)
    try:
        for user in ("ann", "bob"):
            for channel in ("tiktok", "instagram"):
                await add_connection(engine, settings, channel, user)
    finally:
        await engine.dispose()
    before = await _stored(db_url)
    assert len(before) == 8

    new = new_key()
    done = await asyncio.to_thread(_cli, db_url, f"{new},{OLD}", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 8, already current 0, unreadable 0" in done.stdout

    after = await _stored(db_url)
    only_new = TokenCipher(new)
    assert sorted(only_new.decrypt(v) for v in after) == sorted(
        TokenCipher(OLD).decrypt(v) for v in before)
    # A second pass has nothing left to do.
    engine = create_engine(db_url)
    try:
        again = await reencrypt_columns(engine, TokenCipher(f"{new},{OLD}"), ENCRYPTED)
    finally:
        await engine.dispose()
    assert (again.rewritten, again.current, again.unreadable) == (0, 8, 0)


async def test_a_value_no_key_opens_is_reported_and_left(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, TOKEN_ENCRYPTION_KEY="a key nobody has any more")
    engine = create_engine(db_url)
    try:
        await add_connection(engine, settings, "tiktok", "ann")
    finally:
        await engine.dispose()
    before = await _stored(db_url)
    done = await asyncio.to_thread(_cli, db_url, new_key(), tmp_path)
    assert done.returncode == 1
    assert "unreadable 2" in done.stdout
    assert await _stored(db_url) == before


async def test_reencrypt_covers_webhook_signing_secrets(db_url: str, tmp_path: Path) -> None:
    """Webhook secrets are stored with the tokens' key and move with them: after the command
    and the old key dropped, the secret handed out at creation still opens."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from postplan.models import Webhook
    from postplan.notifications.store import create_webhook

    settings = make_settings(db_url, TOKEN_ENCRYPTION_KEY=OLD)
    engine = create_engine(db_url)
    try:
        async with AsyncSession(bind=engine) as session:
            _hook, secret = await create_webhook(session, settings, "ann",
                                                 "https://hooks.example.com/in", None)
            await session.commit()
        await add_connection(engine, settings, "tiktok", "ann")
    finally:
        await engine.dispose()

    new = new_key()
    done = await asyncio.to_thread(_cli, db_url, f"{new},{OLD}", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 3, already current 0, unreadable 0" in done.stdout
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            (stored,) = (await conn.execute(select(Webhook.secret_enc))).scalars().all()
    finally:
        await engine.dispose()
    assert TokenCipher(new).decrypt(stored) == secret
