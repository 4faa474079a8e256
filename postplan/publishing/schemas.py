"""HTTP shapes of publishing (docs/contract.md §2): the publish request/response, intents,
connections."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StringConstraints, field_serializer, field_validator

from postplan.core.schemas import InputSchema, Schema
from postplan.core.validators import IsoDateTime, NoNul, moment_in_range
from postplan.core.vocab import Channel


class PublishBody(InputSchema):
    """`POST /v1/calendars/{calendarId}/publish`."""

    entry_ids: list[uuid.UUID] | None = Field(None, max_length=5000)
    channels: list[Channel] | None = Field(None, min_length=1, max_length=2)
    dry_run: StrictBool = True
    when: Literal["scheduled", "now"] = "scheduled"
    # Optional TikTok privacy level (must be one creator_info offers); SELF_ONLY when unset,
    # the only level an unaudited TikTok app may use.
    privacy_level: Annotated[str, StringConstraints(max_length=40,
                                                    pattern=r"^[A-Z][A-Z_]*$")] | None = None

    @field_validator("entry_ids")
    @classmethod
    def _unique_entries(cls, value: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
        if value is None:
            return None
        return list(dict.fromkeys(value))

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, value: list[Channel] | None) -> list[Channel] | None:
        if value is None:
            return None
        return list(dict.fromkeys(value))


class PublishResult(Schema):
    intent_id: uuid.UUID
    entry_id: uuid.UUID
    channel: str
    status: str
    error: dict[str, Any] | None
    payload: dict[str, Any]


class Summary(Schema):
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    queued: int = 0
    skipped: int = 0


class PublishResponse(Schema):
    dry_run: bool
    summary: Summary
    results: list[PublishResult]


class AttemptOut(Schema):
    attempt_no: int
    step: str
    outcome: str
    error: dict[str, Any] | None
    detail: dict[str, Any] | None
    started_at: dt.datetime
    finished_at: dt.datetime | None

    @field_serializer("started_at", "finished_at")
    def _utc(self, value: dt.datetime | None) -> str | None:
        return None if value is None else value.astimezone(dt.UTC).isoformat()


class IntentOut(Schema):
    id: uuid.UUID
    calendar_id: uuid.UUID
    run_id: uuid.UUID | None
    entry_id: uuid.UUID
    channel: str
    status: str
    dry_run: bool
    when: str
    payload: dict[str, Any]
    error: dict[str, Any] | None
    attempts: int
    platform_post_id: str | None
    run_after: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @field_serializer("created_at", "updated_at", "run_after")
    def _utc(self, value: dt.datetime | None) -> str | None:
        return None if value is None else value.astimezone(dt.UTC).isoformat()


class IntentDetail(IntentOut):
    attempt_log: list[AttemptOut] = Field(default_factory=list)


#: An OAuth token as platforms issue them: visible ASCII only. It is sent back to the platform
#: in an Authorization header, where a space, CR/LF or NUL would break (or split) the request.
Token = Annotated[str, StringConstraints(min_length=1, max_length=4096,
                                         pattern=r"^[\x21-\x7e]+$")]


class ConnectionIn(InputSchema):
    """`PUT /v1/channels/{channel}/connection`."""

    access_token: Token
    refresh_token: Token | None = None
    expires_at: IsoDateTime | None = None
    account_id: Annotated[str, StringConstraints(min_length=1, max_length=256), NoNul()]

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a UTC offset")
        return moment_in_range(value)


class ConnectionOut(Schema):
    channel: str
    account_id: str
    connected: bool
    status: str
    expires_at: dt.datetime | None
    token_preview: str
    has_refresh_token: bool
    updated_at: dt.datetime

    @field_serializer("expires_at", "updated_at")
    def _utc(self, value: dt.datetime | None) -> str | None:
        return None if value is None else value.astimezone(dt.UTC).isoformat()


class OAuthStartOut(Schema):
    authorize_url: str
    state: str
    expires_at: dt.datetime

    @field_serializer("expires_at")
    def _utc(self, value: dt.datetime) -> str:
        return value.astimezone(dt.UTC).isoformat()
