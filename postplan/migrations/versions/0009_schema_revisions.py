"""schema_revisions: every revision applied, so /readyz can tell "ahead of my head" from "behind"

Revision ID: 0009_schema_revisions
Revises: 0004_run_listeners
Create Date: 2026-12-06 11:40:00

Additive only: adds one table; drops nothing. The table is filled with this revision's
ancestors here; later steps are recorded by the migration environment (env.py) as they apply.
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from alembic.script import ScriptDirectory

import postplan.core.db

revision: str = "0009_schema_revisions"
down_revision: str | None = "0004_run_listeners"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "schema_revisions",
        sa.Column("revision", sa.String(length=64), primary_key=True),
        sa.Column("applied_at", postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    )
    script = ScriptDirectory.from_config(op.get_context().config)  # type: ignore[arg-type]
    now = dt.datetime.now(dt.UTC)
    # Everything below this revision was applied before the table existed; this revision
    # itself is recorded by env.py's on_version_apply hook like every later one.
    ancestors = [s.revision for s in script.iterate_revisions(revision, "base")
                 if s.revision != revision]
    op.bulk_insert(table, [{"revision": r, "applied_at": now} for r in ancestors])


def downgrade() -> None:
    # Additive only: postplan never drops a table or a column.
    pass
