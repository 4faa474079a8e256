"""A user's credentials for one channel, tokens encrypted at rest."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from postplan.core.db import JSONType, UTCDateTime
from postplan.models.base import Base, IdMixin, TimestampMixin


class ChannelConnection(IdMixin, TimestampMixin, Base):
    __tablename__ = "channel_connections"

    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    account_id: Mapped[str] = mapped_column(Text, nullable=False)
    access_token_enc: Mapped[str] = mapped_column(Text, nullable=False)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refresh_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    scopes: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    refreshed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (UniqueConstraint("user_id", "channel", name="uq_channel_connections_user"),)
