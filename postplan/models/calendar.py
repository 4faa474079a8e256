"""A user's calendar: the brief it was made from and the runs that filled it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from postplan.core.db import JSONType, UTCDateTime
from postplan.models.base import Base, IdMixin, TimestampMixin


class Calendar(IdMixin, TimestampMixin, Base):
    __tablename__ = "calendars"

    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    brief: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    latest_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    # sha256 of the ICS feed's secret token; the token itself is shown once and never stored.
    feed_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)

    #: Set when the user deletes the calendar: it leaves every list, its published history
    #: (intents, attempts) stays readable.
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_calendars_user_created", "user_id", "created_at"),)
