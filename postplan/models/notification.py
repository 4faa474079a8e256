"""Per-user events (an outbox written with the state change), the user's webhook endpoints and
each delivery of an event to an endpoint."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from postplan.core.db import JSONType, UTCDateTime, utcnow
from postplan.models.base import Base, IdMixin, TimestampMixin


class Notification(IdMixin, Base):
    """One event for one user: `intent.published`, `run.completed`, … (docs/notifications.md)."""

    __tablename__ = "notifications"

    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    event: Mapped[str] = mapped_column(String(32), nullable=False)
    calendar_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    intent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    #: When the delivery loop turned this event into webhook deliveries (NULL: not yet).
    fanned_out_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_notifications_user_created", "user_id", "created_at"),
        Index("ix_notifications_fanout", "fanned_out_at", "created_at"),
    )


class Webhook(IdMixin, TimestampMixin, Base):
    """A user's endpoint and the events it wants; the signing secret is stored encrypted."""

    __tablename__ = "webhooks"

    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    events: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    secret_enc: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (Index("ix_webhooks_user", "user_id", "created_at"),)


class WebhookDelivery(IdMixin, TimestampMixin, Base):
    """One event to one endpoint, retried from here until delivered or given up."""

    __tablename__ = "webhook_deliveries"

    webhook_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False
    )
    notification_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    event: Mapped[str] = mapped_column(String(32), nullable=False)
    #: pending → delivered | failed (gave up after the last retry)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook", "webhook_id", "created_at"),
    )
