"""Core table definitions the publishing domain reads and writes.

They mirror `postplan.models` plus the columns migration 0002_publishing adds (the ORM models
belong to the foundation; publishing uses SQLAlchemy Core so bulk inserts and conditional
UPDATEs stay single statements). Kept in their own MetaData so they never collide with the ORM's.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, Text, Uuid

from postplan.core.db import JSONType, UTCDateTime
from postplan.models import IdempotencyKey, PublishAttempt

metadata = MetaData()

intents = Table(
    "publish_intents",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("calendar_id", Uuid, nullable=False),
    Column("run_id", Uuid),
    Column("entry_id", Uuid, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("payload", JSONType, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", JSONType),
    Column("dry_run", Boolean, nullable=False),
    Column("when", String(16), nullable=False),
    Column("entry_version", Integer, nullable=False),
    Column("run_after", UTCDateTime),
    Column("attempts", Integer, nullable=False),
    Column("platform_handle", Text),
    Column("platform_post_id", Text),
    Column("claim_token", String(64)),
    Column("claimed_by", Text),
    Column("lease_expires_at", UTCDateTime),
    Column("request_id", Text),
    Column("dedupe_key", String(128)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # 0002_publishing
    Column("request", JSONType),
    Column("account_id", Text),
    Column("submitted_at", UTCDateTime),
    Column("polls", Integer, nullable=False, default=0),
)

connections = Table(
    "channel_connections",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("account_id", Text, nullable=False),
    Column("access_token_enc", Text, nullable=False),
    Column("refresh_token_enc", Text),
    Column("expires_at", UTCDateTime),
    Column("refresh_expires_at", UTCDateTime),
    Column("scopes", Text),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # 0002_publishing
    Column("last_error", JSONType),
    Column("refreshed_at", UTCDateTime),
)

oauth_states = Table(
    "oauth_states",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("state_hash", String(64), nullable=False, unique=True),
    Column("code_verifier_enc", Text),
    Column("redirect_uri", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
)

attempts = cast(Table, PublishAttempt.__table__)
idempotency_keys = cast(Table, IdempotencyKey.__table__)
