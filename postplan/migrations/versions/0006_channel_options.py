"""entries: the posting choices a person makes per channel (`channelOptions`)

Revision ID: 0006_channel_options
Revises: 0008_cluster
Create Date: 2026-12-06 11:30:00

Additive only: adds one column with a server default; drops nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import postplan.core.db

revision: str = "0006_channel_options"
down_revision: str | None = "0008_cluster"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calendar_entries", schema=None) as batch_op:
        # TikTok privacy and interaction choices, Instagram extras (first comment, alt text,
        # cover, collaborators, ...): camelCase JSON as the API takes it; `{}` = none chosen.
        batch_op.add_column(sa.Column("channel_options", postplan.core.db.JSONType,
                                      nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    # Additive only: postplan never drops a table or a column.
    pass
