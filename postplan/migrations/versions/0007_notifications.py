"""notifications, webhooks, webhook deliveries; soft delete of calendars and entries

Revision ID: 0007_notifications
Revises: 0005_media
Create Date: 2026-12-06 11:30:00

Additive only: adds three tables and two nullable columns; drops nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import postplan.core.db

revision: str = "0007_notifications"
down_revision: str | None = "0005_media"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, postplan.core.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # A deleted calendar or entry leaves every list but keeps its rows (revisions, intents).
    with op.batch_alter_table("calendars", schema=None) as batch_op:
        batch_op.add_column(_ts("deleted_at", True))
    with op.batch_alter_table("calendar_entries", schema=None) as batch_op:
        batch_op.add_column(_ts("deleted_at", True))
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("calendar_id", sa.Uuid(), nullable=True),
        sa.Column("intent_id", sa.Uuid(), nullable=True),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("data", _JSON, nullable=False),
        _ts("created_at", False),
        _ts("fanned_out_at", True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_user_created", "notifications", ["user_id", "created_at"])
    op.create_index("ix_notifications_fanout", "notifications", ["fanned_out_at", "created_at"])
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", _JSON, nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        _ts("created_at", False),
        _ts("updated_at", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_index("ix_webhooks_user", "webhooks", ["user_id", "created_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at", True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ts("delivered_at", True),
        _ts("created_at", False),
        _ts("updated_at", False),
        sa.ForeignKeyConstraint(["webhook_id"], ["webhooks.id"], ondelete="CASCADE",
                                name=op.f("fk_webhook_deliveries_webhook_id_webhooks")),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"], ondelete="CASCADE",
                                name=op.f("fk_webhook_deliveries_notification_id_notifications")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries",
                    ["status", "next_attempt_at"])
    op.create_index("ix_webhook_deliveries_webhook", "webhook_deliveries",
                    ["webhook_id", "created_at"])


def downgrade() -> None:
    # Additive only: postplan never drops a table or a column.
    pass
