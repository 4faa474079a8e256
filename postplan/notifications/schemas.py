"""HTTP shapes of notifications and webhooks (DESIGN §9, docs/notifications.md)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, Field, UrlConstraints, field_serializer, field_validator

from postplan.core.schemas import InputSchema, Schema

EventName = Literal["intent.published", "intent.failed", "intent.needs_reauth",
                    "intent.unknown", "run.completed", "run.partial", "run.failed"]


def _utc(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


class NotificationOut(Schema):
    id: uuid.UUID
    event: str
    calendar_id: uuid.UUID | None
    intent_id: uuid.UUID | None
    run_id: uuid.UUID | None
    data: dict[str, Any]
    created_at: dt.datetime

    @field_serializer("created_at")
    def _at(self, value: dt.datetime) -> str | None:
        return _utc(value)


class WebhookIn(InputSchema):
    """`POST /v1/webhooks`: where to send which events (all of them when `events` is absent)."""

    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=2048)]
    events: list[EventName] | None = Field(None, min_length=1, max_length=7)

    @field_validator("events")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(value))


class WebhookOut(Schema):
    id: uuid.UUID
    url: str
    events: list[str]
    created_at: dt.datetime

    @field_serializer("created_at")
    def _at(self, value: dt.datetime) -> str | None:
        return _utc(value)


class WebhookCreated(WebhookOut):
    """The answer of a creation: the signing secret, shown this once (`whsec_…`)."""

    secret: str


class DeliveryOut(Schema):
    id: uuid.UUID
    notification_id: uuid.UUID
    event: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @field_serializer("next_attempt_at", "delivered_at", "created_at", "updated_at")
    def _at(self, value: dt.datetime | None) -> str | None:
        return _utc(value)
