"""The tables the publishing domain reads and writes with SQLAlchemy Core.

They are the ORM models' tables plus what migration 0002_publishing added: columns on
`publish_intents` and `channel_connections`, two indexes and the `oauth_states` table. They are
declared here on the models' own MetaData so `Base.metadata` (and with it the schema-vs-models
check and Alembic autogenerate) describes the database exactly. (The ORM classes do not map the
new columns; publishing only uses Core for them. Moving them into `postplan/models` later is a
no-op for the schema.)
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Column, Index, Integer, String, Table, Text, Uuid, text

from postplan.core.db import JSONType, UTCDateTime
from postplan.models import Base, ChannelConnection, IdempotencyKey, PublishAttempt, PublishIntent

metadata = Base.metadata

intents = cast(Table, PublishIntent.__table__)
connections = cast(Table, ChannelConnection.__table__)
attempts = cast(Table, PublishAttempt.__table__)
idempotency_keys = cast(Table, IdempotencyKey.__table__)

_LIVE = ("dry_run = false AND status IN "
         "('pending','claimed','submitting','processing','published','unknown')")


def _add(table: Table, *columns: Column[object]) -> None:
    for column in columns:
        if column.name not in table.c:
            table.append_column(column)


_add(intents,
     # The PublishRequest the intent was validated with (what the worker sends).
     Column("request", JSONType, nullable=True),
     Column("account_id", Text, nullable=True),
     Column("submitted_at", UTCDateTime, nullable=True),
     Column("polls", Integer, nullable=False, server_default="0", default=0))
_add(connections,
     Column("last_error", JSONType, nullable=True),
     Column("refreshed_at", UTCDateTime, nullable=True))

if "ux_publish_intents_live" not in {i.name for i in intents.indexes}:
    # Two live intents for one entry on one channel would be a double post in waiting.
    Index("ux_publish_intents_live", intents.c.entry_id, intents.c.channel, unique=True,
          postgresql_where=text(_LIVE), sqlite_where=text(_LIVE))
    Index("ix_publish_intents_claim", intents.c.status, intents.c.lease_expires_at)



def _oauth_states() -> Table:
    existing = metadata.tables.get("oauth_states")
    if existing is not None:
        return existing
    return Table(
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


oauth_states: Table = _oauth_states()
