"""Publish intents (one entry × channel) and the attempts made for each."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from postplan.core.db import JSONType, UTCDateTime, utcnow
from postplan.models.base import Base, IdMixin, TimestampMixin

# Statuses in which an intent will post, or has posted: at most one per entry and channel.
_LIVE = ("dry_run = false AND status IN "
         "('pending','claimed','submitting','processing','published','unknown')")


class PublishIntent(IdMixin, TimestampMixin, Base):
    __tablename__ = "publish_intents"

    calendar_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    when: Mapped[str] = mapped_column(String(16), nullable=False, default="scheduled")
    entry_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    run_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The platform's handle (TikTok publish_id, Instagram container id), saved before the
    # irreversible call so an unclear outcome can be reconciled instead of retried blind.
    platform_handle: Mapped[str | None] = mapped_column(Text, nullable=True)
    platform_post_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    request_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A client-chosen key from the spool (database-down path): makes the drain exactly-once.
    dedupe_key: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    # The PublishRequest the intent was validated with (what the worker sends).
    request: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    account_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    polls: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0", default=0)

    __table_args__ = (
        Index("ix_publish_intents_due", "status", "run_after"),
        Index("ix_publish_intents_calendar", "calendar_id", "created_at"),
        Index("ix_publish_intents_user", "user_id", "created_at"),
        Index("ix_publish_intents_entry", "entry_id", "channel"),
        # Two live intents for one entry on one channel would be a double post in waiting.
        Index("ux_publish_intents_live", "entry_id", "channel", unique=True,
              postgresql_where=text(_LIVE), sqlite_where=text(_LIVE)),
        Index("ix_publish_intents_claim", "status", "lease_expires_at"),
    )


class PublishAttempt(IdMixin, Base):
    __tablename__ = "publish_attempts"

    intent_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("publish_intents.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    attempt_no: Mapped[int] = mapped_column(Integer, nullable=False)
    step: Mapped[str] = mapped_column(String(32), nullable=False)
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_publish_attempts_intent", "intent_id", "attempt_no"),)
