"""The tables the publishing domain reads and writes with SQLAlchemy Core.

Aliases of the models' tables (every column, including those migration 0002_publishing added, is
declared on the models), so queries here read as plain Core.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from postplan.models import (
    Base,
    ChannelConnection,
    IdempotencyKey,
    OAuthState,
    PublishAttempt,
    PublishIntent,
)

metadata = Base.metadata

intents = cast(Table, PublishIntent.__table__)
connections = cast(Table, ChannelConnection.__table__)
attempts = cast(Table, PublishAttempt.__table__)
idempotency_keys = cast(Table, IdempotencyKey.__table__)
oauth_states = cast(Table, OAuthState.__table__)
