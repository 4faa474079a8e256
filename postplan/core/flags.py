"""Feature flags: one typed enum, one service. Unset flags are OFF.

Start-up values come from the environment; issue 6 adds the flagd-JSON file provider
(OpenFeature) with per-user targeting behind this same interface.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request

from postplan.config import Settings


class Flag(StrEnum):
    calendar_service = "CALENDAR_SERVICE_ENABLED"
    publish_service = "PUBLISH_SERVICE_ENABLED"


class FlagService:
    """Evaluates a flag for a user. Reads are cheap; call it per request, never cache the result."""

    def __init__(self, settings: Settings) -> None:
        self._defaults = {
            Flag.calendar_service: settings.calendar_service_enabled,
            Flag.publish_service: settings.publish_service_enabled,
        }

    def is_enabled(self, flag: Flag, user_id: str | None = None) -> bool:
        """Whether `flag` is on for `user_id` (or globally when no user is given)."""
        return self._defaults[flag]

    def evaluate_all(self, user_id: str | None = None) -> dict[str, bool]:
        """Every flag's value for a user."""
        return {flag.value: self.is_enabled(flag, user_id) for flag in Flag}


def get_flags(request: Request) -> FlagService:
    """FastAPI dependency: the app's flag service."""
    flags: FlagService = request.app.state.flags
    return flags


Flags = Annotated[FlagService, Depends(get_flags)]
