"""media: the library of uploaded files and resumable uploads in flight

Revision ID: 0005_media
Revises: 0004_run_listeners
Create Date: 2026-12-06 11:30:00

Additive only: adds two tables; drops nothing.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import postplan.core.db

revision: str = "0005_media"
down_revision: str | None = "0004_run_listeners"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", _json(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("frame_rate", sa.Float(), nullable=True),
        sa.Column("video_codec", sa.String(length=32), nullable=True),
        sa.Column("audio_codec", sa.String(length=32), nullable=True),
        sa.Column("checks", _json(), nullable=True),
        sa.Column("probe", _json(), nullable=True),
        sa.Column("derived", _json(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_expires_at", postplan.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", postplan.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", postplan.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
    )
    op.create_index("ix_media_user", "media", ["user_id", "created_at", "id"])
    op.create_index("ix_media_status", "media", ["status", "lease_expires_at"])
    op.create_table(
        "media_uploads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("media_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", postplan.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", postplan.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_uploads")),
    )
    op.create_index("ix_media_uploads_user", "media_uploads", ["user_id", "created_at"])


def downgrade() -> None:
    # Additive only: postplan never drops a table or a column.
    pass
