"""HTTP shapes of generation runs (docs/contract.md §2–§4)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import Field, model_validator

from postplan.core.schemas import InputSchema, Schema
from postplan.core.validators import conflict
from postplan.generation.schemas import Brief


class RunOut(Schema):
    id: uuid.UUID
    calendar_id: uuid.UUID
    mode: str
    status: str
    dry_run: bool
    expected_entries: int
    entry_count: int
    error: dict[str, Any] | None
    model: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    heartbeat_at: dt.datetime | None
    finished_at: dt.datetime | None


class RegenerateIn(InputSchema):
    """`POST /v1/calendars/{calendarId}/regenerate`: which entries, and brief overrides."""

    entry_ids: list[uuid.UUID] | None = Field(None, min_length=1, max_length=500)
    unedited: bool | None = None
    # Overrides name Brief fields (unknown ones are 422 when merged), so no more keys than it has.
    brief: dict[str, Any] | None = Field(None, max_length=len(Brief.model_fields))

    @model_validator(mode="after")
    def _one_choice(self) -> RegenerateIn:
        if (self.entry_ids is None) == (self.unedited is not True):
            # A combination of fields (no JSON schema states it): `conflicting_fields`.
            raise conflict("name the entries (entryIds) or ask for all unedited ones "
                           "(unedited: true), not both and not neither")
        return self
