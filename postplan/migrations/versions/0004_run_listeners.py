"""runs: when a stream on another process last listened to a running run

Revision ID: 0004_run_listeners
Revises: 0003_oauth_browser_binding
Create Date: 2026-11-27 10:00:00

Additive only: adds one nullable column; drops nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import postplan.core.db

revision: str = "0004_run_listeners"
down_revision: str | None = "0003_oauth_browser_binding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calendar_runs", schema=None) as batch_op:
        # Written by a process that streams a run executing elsewhere, so the executing
        # process does not cancel the run as abandoned while someone still listens.
        batch_op.add_column(sa.Column("listened_at", postplan.core.db.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    # Additive only: postplan never drops a table or a column.
    pass
