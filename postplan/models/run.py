"""One generation run: it exists before the first event and ends in a final status."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from postplan.core.db import JSONType, UTCDateTime
from postplan.models.base import Base, IdMixin, TimestampMixin


class CalendarRun(IdMixin, TimestampMixin, Base):
    __tablename__ = "calendar_runs"

    calendar_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("calendars.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    mode: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    brief: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    expected_entries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    entry_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    model: Mapped[str | None] = mapped_column(Text, nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Last time a stream on another process listened to this run while it ran (the
    #: executing process cancels a run nobody listens to; see calendars/runs/executor.py).
    listened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_calendar_runs_calendar", "calendar_id", "created_at"),
        Index("ix_calendar_runs_status", "status", "heartbeat_at"),
    )
