"""oauth_states.browser_binding_hash: bind an OAuth login to the browser that started it

Revision ID: 0003_oauth_browser_binding
Revises: 0002_publishing
Create Date: 2026-12-06 09:00:00

Additive only: one nullable column. A state stored before this revision has no binding and is
refused at the callback (the user starts the login again; states live ten minutes).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_oauth_browser_binding"
down_revision: str | None = "0002_publishing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("browser_binding_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # Additive only: postplan never drops a table or a column.
    pass
