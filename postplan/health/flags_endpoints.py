"""`GET /v1/flags`: the caller's evaluated flags and the flags file's state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from postplan.core.auth import CurrentUser
from postplan.core.flags import Flags

router = APIRouter(tags=["flags"])


@router.get("/flags")
async def get_flags(user: CurrentUser, flags: Flags) -> dict[str, Any]:
    """Each flag for the caller (`enabled`, `variant`, `reason`, `source`: env|file) and the
    flags file's status (`none`, `missing`, `ok`, `invalid`)."""
    return flags.describe(user.id)
