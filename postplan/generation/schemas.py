"""The contract between generation and the rest: a Brief in, EntryDrafts out."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import holidays
from pydantic import Field, StringConstraints, field_validator, model_validator

from postplan.core.schemas import InputSchema, Schema
from postplan.core.validators import (
    NOT_TEXT,
    IsoDate,
    NoNul,
    NotBlankText,
    ZoneName,
    conflict,
    is_blank,
    no_nul,
)
from postplan.core.vocab import FORMATS_BY_CHANNEL, Channel, EntryFormat

ShortText = Annotated[str, StringConstraints(max_length=500), NoNul()]
LongText = Annotated[str, StringConstraints(max_length=2000), NoNul()]


#: The planner places at most one post per channel per day (generation/planner/checks.py): the
#: document says 7, the field itself reads up to 21 so that the planner can name the problem.
_PLANNABLE: dict[str, Any] = {"maximum": 7}
#: Countries with holiday data (the planner refuses others, naming the field).
_COUNTRIES: list[Any] = sorted(holidays.list_supported_countries(include_aliases=False))


class Brief(InputSchema):
    """What the creator asked for (request body of `POST /v1/ai/calendar`)."""

    brand: Annotated[str, StringConstraints(min_length=1, max_length=200), NoNul(),
                     NotBlankText]
    niche: ShortText | None = None
    audience: ShortText | None = None
    goals: LongText | None = None
    channels: list[Channel] = Field(
        default_factory=lambda: [Channel.tiktok, Channel.instagram], min_length=1, max_length=2,
        json_schema_extra={"uniqueItems": True},
    )
    start_date: IsoDate
    days: Annotated[int, Field(ge=1, le=92), NOT_TEXT] = 30
    # One number for every channel, or a number per channel.
    posts_per_week: (
        Annotated[int, Field(ge=1, le=21, json_schema_extra=_PLANNABLE), NOT_TEXT]
        | Annotated[dict[Channel, Annotated[int, Field(ge=1, le=21, json_schema_extra=_PLANNABLE),
                                            NOT_TEXT]], Field(max_length=len(Channel))]
        | None
    ) = None
    timezone: ZoneName = "UTC"
    pillars: list[Annotated[str, StringConstraints(min_length=1, max_length=80),
                            NoNul(), NotBlankText]] | None = Field(
        None, max_length=12
    )
    language: Annotated[str, StringConstraints(max_length=7,
                                               pattern=r"^[a-z]{2}(-[A-Za-z]{2,4})?$")] = "en"
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$"),
                       Field(json_schema_extra={"enum": _COUNTRIES})] | None = None
    calendar_id: uuid.UUID | None = None
    seed: Annotated[str, StringConstraints(max_length=64), NoNul()] | None = None

    @field_validator("brand", "niche", "audience", "goals")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = no_nul(value).strip()
        return value

    @field_validator("brand")
    @classmethod
    def _brand_not_blank(cls, value: str) -> str:
        if is_blank(value):
            raise ValueError("must not be blank")
        return value

    @field_validator("pillars")
    @classmethod
    def _pillars(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [no_nul(p).strip() for p in value]
        if any(is_blank(p) for p in cleaned):
            raise ValueError("pillars must not be blank")
        if len({p.casefold() for p in cleaned}) != len(cleaned):
            raise conflict("pillars must be unique (ignoring case)")
        return cleaned

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, value: list[Channel]) -> list[Channel]:
        if len(set(value)) != len(value):
            raise ValueError("channels must be unique")
        return value

    @model_validator(mode="after")
    def _ppw_channels(self) -> Brief:
        if isinstance(self.posts_per_week, dict):
            extra = set(self.posts_per_week) - set(self.channels)
            if extra:
                raise conflict(f"postsPerWeek names channels not in channels: {sorted(extra)}")
        return self

    def posts_per_week_for(self, channel: Channel, default: int) -> int:
        """The requested weekly cadence for one channel, or `default` when none was asked."""
        if isinstance(self.posts_per_week, int):
            return self.posts_per_week
        if isinstance(self.posts_per_week, dict):
            return self.posts_per_week.get(channel, default)
        return default


class EntryDraft(Schema):
    """One planned post as generation produces it, before it is saved."""

    channel: Channel
    format: EntryFormat
    scheduled_at: dt.datetime
    timezone: str
    pillar: str
    hook: str
    caption: str
    hashtags: list[str]
    call_to_action: str
    asset_notes: str

    @model_validator(mode="after")
    def _consistent(self) -> EntryDraft:
        if self.scheduled_at.tzinfo is None:
            raise ValueError("scheduledAt must carry a UTC offset")
        if self.format not in FORMATS_BY_CHANNEL[self.channel]:
            raise ValueError(f"format {self.format} is not available on {self.channel}")
        return self
