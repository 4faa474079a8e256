"""Migrations apply on both databases, match the models, and never drop anything."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from postplan.core.db import create_engine
from postplan.core.migrate import MIGRATIONS_DIR, head_revision
from postplan.models import Base

FORBIDDEN = {"drop_table", "drop_column", "drop_constraint", "rename_table", "alter_column"}


def _calls_in_upgrade(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in {"upgrade", "downgrade"}:
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
                    names.add(call.func.attr)
    return names


def test_no_migration_drops_a_table_or_column() -> None:
    files = sorted((MIGRATIONS_DIR / "versions").glob("*.py"))
    assert files, "no migrations found"
    for path in files:
        bad = _calls_in_upgrade(path) & FORBIDDEN
        assert not bad, f"{path.name} uses {bad}: migrations are additive only"
        text = path.read_text().upper()
        assert "DROP TABLE" not in text and "DROP COLUMN" not in text, path.name


def test_the_additive_check_catches_a_drop(tmp_path: Path) -> None:
    bad = tmp_path / "9999_bad.py"
    bad.write_text("def upgrade():\n    op.drop_column('calendars', 'name')\n")
    assert _calls_in_upgrade(bad) & FORBIDDEN == {"drop_column"}


def test_schema_matches_models_and_has_the_appendix_tables(db_url: str) -> None:
    async def check() -> tuple[list[object], set[str], set[str], str | None]:
        engine = create_engine(db_url)
        try:
            async with engine.connect() as conn:
                def inspect_sync(sync_conn):  # type: ignore[no-untyped-def]
                    ctx = MigrationContext.configure(sync_conn)
                    diff = compare_metadata(ctx, Base.metadata)
                    insp = inspect(sync_conn)
                    cols = {c["name"] for c in insp.get_columns("publish_intents")}
                    return diff, set(insp.get_table_names()), cols, ctx.get_current_revision()
                return await conn.run_sync(inspect_sync)  # type: ignore[no-any-return]
        finally:
            await engine.dispose()

    diff, tables, intent_cols, revision = asyncio.run(check())
    assert revision == head_revision()
    assert diff == [], f"models and migrations differ: {diff}"
    for table in ("calendars", "calendar_runs", "calendar_entries", "entry_revisions",
                  "publish_intents", "publish_attempts", "channel_connections",
                  "idempotency_keys"):
        assert table in tables
    assert {"id", "calendar_id", "run_id", "user_id", "channel", "payload", "status", "error",
            "created_at"} <= intent_cols


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_migrate_is_idempotent(db_url: str) -> None:
    from postplan.core.migrate import upgrade

    upgrade(db_url)
    upgrade(db_url)
