"""Feature flags: one typed enum, one service. Unset flags are OFF.

Values come from the OpenFeature SDK backed by `FileFlagProvider`: the flagd JSON file named by
`FLAGS_FILE` (re-read every `FLAGS_POLL_SECONDS` while the app runs), falling back per flag to the
environment value read at start. Targeting is by user id (allowlist and sticky percentage).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from openfeature import api
from openfeature.evaluation_context import EvaluationContext

from postplan.config import Settings
from postplan.core.flagfile import flag_can_be_on
from postplan.core.flags_provider import FileFlagProvider, FileStatus
from postplan.core.logging import get_logger
from postplan.core.metrics import FLAG_ACTIVE, FLAG_CONFIG_VALID, FLAG_RELOADS
from postplan.core.periodic import run_every

log = get_logger("postplan.flags")


class Flag(StrEnum):
    calendar_service = "CALENDAR_SERVICE_ENABLED"
    publish_service = "PUBLISH_SERVICE_ENABLED"


@dataclass(frozen=True)
class FlagDecision:
    """One flag evaluated for one user, with why."""

    flag: str
    enabled: bool
    variant: str | None
    reason: str
    source: str  # "file" or "env"


class FlagService:
    """Evaluates a flag for a user. Reads are cheap; call it per request, never cache the result."""

    def __init__(self, settings: Settings) -> None:
        env = {
            Flag.calendar_service.value: settings.calendar_service_enabled,
            Flag.publish_service.value: settings.publish_service_enabled,
        }
        self.poll_seconds = settings.flags_poll_seconds
        self._provider = FileFlagProvider(env, settings.flags_file)
        self.refresh()
        # A domain per service keeps two apps in one process (tests) from sharing a provider.
        self._domain = f"postplan-flags-{uuid.uuid4().hex[:12]}"
        api.set_provider_and_wait(self._provider, self._domain)
        self._client = api.get_client(self._domain)

    def is_enabled(self, flag: Flag, user_id: str | None = None) -> bool:
        """Whether `flag` is on for `user_id` (or globally when no user is given)."""
        return self.decide(flag, user_id).enabled

    def decide(self, flag: Flag, user_id: str | None = None) -> FlagDecision:
        """The flag's value for a user with the variant, reason and source behind it."""
        ctx = EvaluationContext(targeting_key=user_id)
        # Not ready, an unknown flag or a failing rule all return the code default: OFF.
        details = self._client.get_boolean_details(flag.value, False, ctx)
        raw = details.reason
        reason = str(getattr(raw, "value", raw) or "UNKNOWN")
        return FlagDecision(flag=flag.value, enabled=bool(details.value), variant=details.variant,
                            reason=reason, source=self._provider.source_of(flag.value))

    def evaluate_all(self, user_id: str | None = None) -> dict[str, bool]:
        """Every flag's value for a user."""
        return {flag.value: self.is_enabled(flag, user_id) for flag in Flag}

    def decide_all(self, user_id: str | None = None) -> list[FlagDecision]:
        """Every flag's decision for a user."""
        return [self.decide(flag, user_id) for flag in Flag]

    @property
    def file_status(self) -> FileStatus:
        """The flags file's state (none, missing, ok, invalid) after the latest check."""
        return self._provider.status

    def refresh(self) -> bool:
        """Check the flags file once; True when the values in use changed."""
        before = self._provider.status
        changed = self._provider.refresh()
        status = self._provider.status
        FLAG_CONFIG_VALID.set(0 if status.state == "invalid" else 1)
        if status.sha256 != before.sha256 or status.state != before.state:
            FLAG_RELOADS.labels(result="ok" if status.state in ("ok", "none")
                                else status.state).inc()
        self._update_active()
        return changed

    def _update_active(self) -> None:
        for flag in Flag:
            definition = self._provider.definition(flag.value)
            active = (flag_can_be_on(definition) if definition is not None
                      else self.decide_env(flag))
            FLAG_ACTIVE.labels(flag=flag.value).set(1 if active else 0)

    def decide_env(self, flag: Flag) -> bool:
        """The start-up (environment) value of a flag."""
        return self._provider.env_value(flag.value)

    @asynccontextmanager
    async def watch(self, app: FastAPI) -> AsyncIterator[None]:
        """Lifespan hook: re-read the flags file every `poll_seconds` while the app runs."""
        del app
        if self._provider.status.path is None:
            yield
            return

        async def poll() -> None:
            await asyncio.to_thread(self.refresh)

        # A poll failure must never stop future polls: run_every logs it and carries on.
        async with run_every(self.poll_seconds, poll, name="postplan-flags-poll", log=log,
                             failure_event="flags.poll_failed"):
            yield

    def describe(self, user_id: str | None) -> dict[str, Any]:
        """The body of `GET /v1/flags`: the caller's flags and the file's state."""
        status = self.file_status
        return {
            "userId": user_id,
            "flags": {
                d.flag: {"enabled": d.enabled, "variant": d.variant, "reason": d.reason,
                         "source": d.source}
                for d in self.decide_all(user_id)
            },
            "file": {
                "path": status.path,
                "status": status.state,
                "error": status.error,
                "loadedAt": status.loaded_at,
                "checkedAt": status.checked_at,
                "sha256": status.sha256,
                "pollSeconds": self.poll_seconds,
            },
        }


def get_flags(request: Request) -> FlagService:
    """FastAPI dependency: the app's flag service."""
    flags: FlagService = request.app.state.flags
    return flags


Flags = Annotated[FlagService, Depends(get_flags)]
