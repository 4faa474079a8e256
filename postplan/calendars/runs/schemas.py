"""HTTP shapes of generation runs (docs/contract.md §2–§4)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from postplan.core.schemas import Schema


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
