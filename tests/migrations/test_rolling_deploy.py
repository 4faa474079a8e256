"""A rolling deploy across a migration: the old build keeps serving (and stays ready) while a
newer build migrates the shared Postgres database past the old build's head; a database behind
the build's head is not ready."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import postplan
from postplan.app import create_app
from postplan.core.migrate import head_revision, upgrade
from tests.fixtures.apps import in_process_client, make_settings
from tests.fixtures.databases import PG_ADMIN_DSN, _admin, _require_pg, async_url

BRIEF = {"brand": "Acme Coffee", "channels": ["instagram"], "startDate": "2027-01-04", "days": 3}

FUTURE = '''"""a newer build's expand step: a nullable column the old build does not know"""
import sqlalchemy as sa
from alembic import op

revision = "9000_future_expand"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calendars", sa.Column("future_note", sa.Text(), nullable=True))


def downgrade() -> None:
    pass
'''


@pytest.fixture
def pg_fresh() -> Iterator[str]:
    """An empty Postgres database of its own (the shared test database is already at head)."""
    _require_pg()
    name = f"postplan_roll_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    yield async_url(PG_ADMIN_DSN, name)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _newer_build(tmp_path: Path) -> Path:
    """A copy of this build's package with one more (expand-only) migration on top."""
    root = tmp_path / "newer"
    shutil.copytree(Path(postplan.__file__).parent, root / "postplan",
                    ignore=shutil.ignore_patterns("__pycache__"))
    versions = root / "postplan" / "migrations" / "versions"
    (versions / "9000_future_expand.py").write_text(FUTURE.format(head=head_revision()))
    return root


async def _run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd off the checkout: `python -m` puts the working directory first on sys.path.
    return await asyncio.to_thread(subprocess.run, argv, env=env, cwd=cwd, capture_output=True,
                                   text=True, timeout=120, check=False)


async def _ready(url: str) -> tuple[int, dict[str, object]]:
    app = create_app(make_settings(url), migrate=False, run_worker=False)
    async with in_process_client(app) as client:
        resp = await client.get("/readyz")
        return resp.status_code, resp.json()


async def _generate(url: str) -> int:
    app = create_app(make_settings(url, CALENDAR_SERVICE_ENABLED=True), migrate=False,
                     run_worker=False)
    async with in_process_client(app) as client:
        resp = await client.post("/v1/ai/calendar", json=BRIEF)
        assert "event: done" in resp.text
        listed = await client.get("/v1/calendars")
        return len(listed.json()["items"])


async def test_old_build_stays_ready_and_serving_after_a_newer_build_migrates(
        pg_fresh: str, tmp_path: Path) -> None:
    # Before the release step the database is behind this build: not ready.
    status, body = await _ready(pg_fresh)
    assert status == 503, body

    await asyncio.to_thread(upgrade, pg_fresh)
    status, body = await _ready(pg_fresh)
    assert status == 200 and body["checks"]["migrations"]["ahead"] is False  # type: ignore[index]
    assert await _generate(pg_fresh) == 1

    # The newer build runs its release step (`postplan migrate`) in its own process.
    newer = _newer_build(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(newer), "DATABASE_URL": pg_fresh}
    done = await _run([sys.executable, "-m", "postplan.cli", "migrate"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "9000_future_expand" in done.stderr + done.stdout, done.stderr + done.stdout

    # The old build: still ready (the schema is past its head, not behind it) and still working.
    status, body = await _ready(pg_fresh)
    migrations = body["checks"]["migrations"]  # type: ignore[index]
    assert status == 200, body
    assert migrations["current"] == "9000_future_expand"  # type: ignore[index]
    assert migrations["ahead"] is True  # type: ignore[index]
    assert await _generate(pg_fresh) == 2

    # The newer build serves the same database too.
    code = ("import asyncio, httpx\n"
            "from postplan.app import create_app\n"
            "from postplan.config import Settings\n"
            "async def main():\n"
            "    app = create_app(Settings(_env_file=None), migrate=False, run_worker=False)\n"
            "    async with app.router.lifespan_context(app):\n"
            "        t = httpx.ASGITransport(app=app)\n"
            "        async with httpx.AsyncClient(transport=t, base_url='http://x') as c:\n"
            "            r = await c.get('/readyz')\n"
            "            m = r.json()['checks']['migrations']\n"
            "            print('RESULT', r.status_code, m['current'])\n"
            "asyncio.run(main())\n")
    out = await _run([sys.executable, "-c", code], env, tmp_path)
    assert out.returncode == 0, out.stderr
    result = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    assert result == ["RESULT 200 9000_future_expand"], out.stdout


async def test_every_applied_revision_is_recorded(db_url: str) -> None:
    """schema_revisions holds the whole chain, so any older build can find its head."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from postplan.core.db import create_engine
    from postplan.core.migrate import alembic_config

    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = {r[0] for r in await conn.execute(text("SELECT revision FROM schema_revisions"))}
    finally:
        await engine.dispose()
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert rows == {s.revision for s in script.walk_revisions()}
