"""publishing: intent request snapshot, account, poll bookkeeping, one live intent per post,
OAuth state

Revision ID: 0002_publishing
Revises: 0001
Create Date: 2026-11-25 22:40:00

Additive only: adds columns, an index and a table; drops nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import postplan.core.db

revision: str = "0002_publishing"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = "dry_run = false AND status IN ('pending','claimed','submitting','processing','published','unknown')"


def upgrade() -> None:
    with op.batch_alter_table("publish_intents", schema=None) as batch_op:
        # The PublishRequest the intent was validated with (what the worker sends).
        batch_op.add_column(sa.Column("request", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))
        batch_op.add_column(sa.Column("account_id", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("submitted_at", postplan.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("polls", sa.Integer(), nullable=False, server_default="0"))
    # Two live intents for one entry on one channel would be a double post in waiting.
    op.create_index(
        "ux_publish_intents_live", "publish_intents", ["entry_id", "channel"], unique=True,
        postgresql_where=sa.text(_LIVE), sqlite_where=sa.text(_LIVE),
    )
    op.create_index("ix_publish_intents_claim", "publish_intents", ["status", "lease_expires_at"])
    op.create_table(
        "oauth_states",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("code_verifier_enc", sa.Text(), nullable=True),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("expires_at", postplan.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", postplan.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", postplan.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_states")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oauth_states_state_hash")),
    )
    with op.batch_alter_table("channel_connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_error", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))
        batch_op.add_column(sa.Column("refreshed_at", postplan.core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Additive only: postplan never drops a table or a column.
    pass
