"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 22:23:39.852755
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import postplan.core.db

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendars',
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('brief', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('latest_run_id', sa.Uuid(), nullable=True),
    sa.Column('feed_token_hash', sa.String(length=64), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendars')),
    sa.UniqueConstraint('feed_token_hash', name=op.f('uq_calendars_feed_token_hash'))
    )
    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.create_index('ix_calendars_user_created', ['user_id', 'created_at'], unique=False)

    op.create_table('channel_connections',
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('account_id', sa.Text(), nullable=False),
    sa.Column('access_token_enc', sa.Text(), nullable=False),
    sa.Column('refresh_token_enc', sa.Text(), nullable=True),
    sa.Column('expires_at', postplan.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('refresh_expires_at', postplan.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('scopes', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_connections')),
    sa.UniqueConstraint('user_id', 'channel', name='uq_channel_connections_user')
    )
    op.create_table('idempotency_keys',
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('user_id', 'scope', 'key', name='uq_idempotency_keys_key')
    )
    op.create_table('publish_intents',
    sa.Column('calendar_id', sa.Uuid(), nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=True),
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('when', sa.String(length=16), nullable=False),
    sa.Column('entry_version', sa.Integer(), nullable=False),
    sa.Column('run_after', postplan.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('platform_handle', sa.Text(), nullable=True),
    sa.Column('platform_post_id', sa.Text(), nullable=True),
    sa.Column('claim_token', sa.String(length=64), nullable=True),
    sa.Column('claimed_by', sa.Text(), nullable=True),
    sa.Column('lease_expires_at', postplan.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('request_id', sa.Text(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=128), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publish_intents')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_publish_intents_dedupe_key'))
    )
    with op.batch_alter_table('publish_intents', schema=None) as batch_op:
        batch_op.create_index('ix_publish_intents_calendar', ['calendar_id', 'created_at'], unique=False)
        batch_op.create_index('ix_publish_intents_due', ['status', 'run_after'], unique=False)
        batch_op.create_index('ix_publish_intents_entry', ['entry_id', 'channel'], unique=False)
        batch_op.create_index('ix_publish_intents_user', ['user_id', 'created_at'], unique=False)

    op.create_table('calendar_runs',
    sa.Column('calendar_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('brief', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('expected_entries', sa.Integer(), nullable=False),
    sa.Column('entry_count', sa.Integer(), nullable=False),
    sa.Column('error', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('model', sa.Text(), nullable=True),
    sa.Column('heartbeat_at', postplan.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', postplan.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['calendar_id'], ['calendars.id'], name=op.f('fk_calendar_runs_calendar_id_calendars'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_runs'))
    )
    with op.batch_alter_table('calendar_runs', schema=None) as batch_op:
        batch_op.create_index('ix_calendar_runs_calendar', ['calendar_id', 'created_at'], unique=False)
        batch_op.create_index('ix_calendar_runs_status', ['status', 'heartbeat_at'], unique=False)

    op.create_table('publish_attempts',
    sa.Column('intent_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('attempt_no', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('error', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('started_at', postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', postplan.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['intent_id'], ['publish_intents.id'], name=op.f('fk_publish_attempts_intent_id_publish_intents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publish_attempts'))
    )
    with op.batch_alter_table('publish_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_publish_attempts_intent', ['intent_id', 'attempt_no'], unique=False)

    op.create_table('calendar_entries',
    sa.Column('calendar_id', sa.Uuid(), nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=True),
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('scheduled_at', postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('pillar', sa.Text(), nullable=False),
    sa.Column('hook', sa.Text(), nullable=False),
    sa.Column('caption', sa.Text(), nullable=False),
    sa.Column('hashtags', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('call_to_action', sa.Text(), nullable=False),
    sa.Column('asset_notes', sa.Text(), nullable=False),
    sa.Column('media', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('edited', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['calendar_id'], ['calendars.id'], name=op.f('fk_calendar_entries_calendar_id_calendars'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['calendar_runs.id'], name=op.f('fk_calendar_entries_run_id_calendar_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_entries'))
    )
    with op.batch_alter_table('calendar_entries', schema=None) as batch_op:
        batch_op.create_index('ix_calendar_entries_calendar_sched', ['calendar_id', 'scheduled_at'], unique=False)
        batch_op.create_index('ix_calendar_entries_run_seq', ['run_id', 'seq'], unique=False)
        batch_op.create_index('ix_calendar_entries_user', ['user_id'], unique=False)

    op.create_table('entry_revisions',
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('calendar_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('created_at', postplan.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['calendar_entries.id'], name=op.f('fk_entry_revisions_entry_id_calendar_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entry_revisions')),
    sa.UniqueConstraint('entry_id', 'version', name='uq_entry_revisions_version')
    )


def downgrade() -> None:
    # Additive only: postplan never drops a table or a column (docs/contract.md, ops appendix: rollback step 3).
    pass
