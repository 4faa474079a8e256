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
from postplan.generation.brief_fields import (
    ClosedDay,
    Observances,
    Offer,
    Phrase,
    PostingWindow,
    Url,
    closed_day,
)

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
    # A number is the TOTAL across channels (issue 16; it used to mean per channel), an object
    # gives a number per channel. `posts_per_week_mode` says which one a run used.
    posts_per_week: (
        Annotated[int, Field(ge=1, le=21, json_schema_extra={"maximum": 14}), NOT_TEXT]
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
    # DESIGN §10: the richer brief. All optional; all steer both the planner and the model.
    tone: ShortText | None = None
    voice_samples: list[LongText] | None = Field(None, max_length=5)
    offers: list[Offer] | None = Field(None, max_length=10)
    link: Url | None = None
    avoid: list[Phrase] | None = Field(None, max_length=50)
    closed_days: list[ClosedDay] | None = Field(None, max_length=400)
    posting_windows: dict[Channel, Annotated[list[PostingWindow],
                                             Field(min_length=1, max_length=14)]] | None = Field(
        None, max_length=2
    )
    observances: Observances | None = None

    @field_validator("closed_days")
    @classmethod
    def _closed_days(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return sorted(set(closed_day(v) for v in value))

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
        if self.posting_windows is not None:
            extra = set(self.posting_windows) - set(self.channels)
            if extra:
                raise conflict(f"postingWindows names channels not in channels: {sorted(extra)}")
        return self

    @property
    def posts_per_week_mode(self) -> str:
        """How `postsPerWeek` was read: "total" (a number), "perChannel" (an object) or
        "default" (absent: each channel's default cadence)."""
        if isinstance(self.posts_per_week, int):
            return "total"
        if isinstance(self.posts_per_week, dict):
            return "perChannel"
        return "default"

    def posts_per_week_for(self, channel: Channel, defaults: dict[Channel, int]) -> int:
        """The weekly cadence for one channel. `defaults` are the channels' default cadences:
        they fill channels an object leaves out and weigh how a total is split (largest
        remainder, every channel at least one post when the total allows)."""
        if isinstance(self.posts_per_week, dict):
            return self.posts_per_week.get(channel, defaults[channel])
        if isinstance(self.posts_per_week, int):
            return split_total(self.posts_per_week, self.channels, defaults)[channel]
        return defaults[channel]


def split_total(total: int, channels: list[Channel], weights: dict[Channel, int]
                ) -> dict[Channel, int]:
    """A weekly total spread over channels in proportion to `weights` (largest remainder;
    ties go to the channel listed first), with at least one post each when total allows."""
    order = list(dict.fromkeys(channels))
    if total >= len(order):
        counts = dict.fromkeys(order, 1)
        rest = total - len(order)
    else:
        counts = dict.fromkeys(order, 0)
        rest = total
    weight_sum = sum(weights[c] for c in order) or 1
    raw = {c: rest * weights[c] / weight_sum for c in order}
    for c in order:
        counts[c] += int(raw[c])
    left = total - sum(counts.values())
    by_remainder = sorted(order, key=lambda c: (-(raw[c] - int(raw[c])), order.index(c)))
    for c in by_remainder[:left]:
        counts[c] += 1
    return counts


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
