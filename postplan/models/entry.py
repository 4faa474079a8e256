"""A calendar entry: one post on one channel at one time, and its edit history."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from postplan.core.db import JSONType, UTCDateTime, utcnow
from postplan.models.base import Base, IdMixin, TimestampMixin


class CalendarEntry(IdMixin, TimestampMixin, Base):
    __tablename__ = "calendar_entries"

    calendar_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("calendars.id", ondelete="CASCADE"), nullable=False
    )
    run_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("calendar_runs.id", ondelete="SET NULL"), nullable=True
    )
    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    # Position in its run's stream; the SSE id is "<runId>:<seq>".
    seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    format: Mapped[str] = mapped_column(String(16), nullable=False)
    scheduled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    pillar: Mapped[str] = mapped_column(Text, nullable=False, default="")
    hook: Mapped[str] = mapped_column(Text, nullable=False, default="")
    caption: Mapped[str] = mapped_column(Text, nullable=False, default="")
    hashtags: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    call_to_action: Mapped[str] = mapped_column(Text, nullable=False, default="")
    asset_notes: Mapped[str] = mapped_column(Text, nullable=False, default="")
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, nullable=False, default=list)
    # `channelOptions` (camelCase JSON as the API takes it; `{}` = none chosen).
    channel_options: Mapped[dict[str, Any]] = mapped_column(
        JSONType, nullable=False, default=dict, server_default=text("'{}'"))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    edited: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: Set when the user deletes the entry: kept (with its revisions) but out of every list,
    #: export and feed.
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_calendar_entries_calendar_sched", "calendar_id", "scheduled_at"),
        Index("ix_calendar_entries_run_seq", "run_id", "seq"),
        Index("ix_calendar_entries_user", "user_id"),
    )


class EntryRevision(IdMixin, Base):
    """Every saved version of an entry, so an edit never loses what was there before."""

    __tablename__ = "entry_revisions"

    entry_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("calendar_entries.id", ondelete="CASCADE"), nullable=False
    )
    calendar_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (UniqueConstraint("entry_id", "version", name="uq_entry_revisions_version"),)
