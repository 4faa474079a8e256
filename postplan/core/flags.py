"""Feature flags: one typed enum, one service. Unset flags are OFF.

Values come from the OpenFeature SDK backed by `FileFlagProvider`: on SQLite the flagd JSON file
named by `FLAGS_FILE`, on Postgres the document in the `flag_definitions` table (a new content of
`FLAGS_FILE` is imported into it; see `flagstore`), re-read every `FLAGS_POLL_SECONDS` while the
process runs, falling back per flag to the environment value read at start. Targeting is by user
id (allowlist and sticky percentage).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.config import Settings
from postplan.core.db import create_engine
from postplan.core.flagfile import FlagConfigError, flag_can_be_on, parse_flag_document
from postplan.core.flags_provider import FileFlagProvider, FileStatus
from postplan.core.flagstore import FlagHead, FlagRevisionConflict, read_head, read_stored, write
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
    source: str  # "file", "database" or "env"


class FlagService:
    """Evaluates a flag for a user. Reads are cheap; call it per request, never cache the result."""

    def __init__(self, settings: Settings) -> None:
        env = {
            Flag.calendar_service.value: settings.calendar_service_enabled,
            Flag.publish_service.value: settings.publish_service_enabled,
        }
        self.poll_seconds = settings.flags_poll_seconds
        self._settings = settings
        #: Where the definitions live: the file (SQLite, one host) or the database (Postgres,
        #: shared by every process of the cluster).
        self.store = "file" if settings.is_sqlite else "database"
        self._file_seen: str | None = None  # the FLAGS_FILE digest this process last looked at
        self._watching = False
        if self.store == "file":
            self._provider = FileFlagProvider(env, settings.flags_file)
            self.refresh()
        else:
            # Loaded by `watch` (or `load_from_database`) before the process serves or claims.
            self._provider = FileFlagProvider(env, None, origin="database")
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
        self._after_refresh(before)
        return changed

    def _after_refresh(self, before: FileStatus) -> None:
        status = self._provider.status
        FLAG_CONFIG_VALID.set(0 if status.state == "invalid" else 1)
        if status.sha256 != before.sha256 or status.state != before.state:
            FLAG_RELOADS.labels(result="ok" if status.state in ("ok", "none")
                                else status.state).inc()
        self._update_active()

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
    async def watch(self, app: FastAPI | None = None) -> AsyncIterator[None]:
        """Lifespan hook: re-read the definitions every `poll_seconds` while the process runs
        (the file on SQLite; on Postgres the row's revision, and the document when it moved)."""
        del app
        if self._watching or (self.store == "file" and self._provider.status.path is None):
            yield  # already watched (the app's lifespan around an in-process worker)
            return
        self._watching = True
        try:
            async with self._watch() as watching:
                yield watching
        finally:
            self._watching = False

    @asynccontextmanager
    async def _watch(self) -> AsyncIterator[None]:
        if self.store == "database":
            async with self._watch_database():
                yield
            return

        async def poll() -> None:
            await asyncio.to_thread(self.refresh)

        # A poll failure must never stop future polls: run_every logs it and carries on.
        async with run_every(self.poll_seconds, poll, name="postplan-flags-poll", log=log,
                             failure_event="flags.poll_failed"):
            yield

    @asynccontextmanager
    async def _watch_database(self) -> AsyncIterator[None]:
        # One connection of its own, so a flip is seen even when the request pool is exhausted.
        engine = create_engine(self._settings.database_url, pool_size=1, max_overflow=0,
                               disable_statement_cache=(
                                   self._settings.database_disable_statement_cache))
        try:
            try:
                await self.load_from_database(engine)
            except Exception:  # the database may be late: the environment values apply
                log.exception("flags.poll_failed")

            async def poll() -> None:
                await self.load_from_database(engine)

            async with run_every(self.poll_seconds, poll, name="postplan-flags-poll", log=log,
                                 failure_event="flags.poll_failed"):
                yield
        finally:
            await engine.dispose()

    async def load_once(self) -> None:
        """Read the definitions once, for a short command that does not `watch` (on SQLite the
        file was read at construction)."""
        if self.store != "database" or self._watching:
            return
        engine = create_engine(self._settings.database_url, pool_size=1, max_overflow=0,
                               disable_statement_cache=(
                                   self._settings.database_disable_statement_cache))
        try:
            await self.load_from_database(engine)
        finally:
            await engine.dispose()

    async def load_from_database(self, engine: AsyncEngine) -> bool:
        """One poll: import FLAGS_FILE if its content is new, read the revision; when it
        moved, read the document and apply it (an invalid document keeps the last good values).
        True when the values in use changed."""
        head = await read_head(engine)
        if await self._import_file(engine, head):
            head = await read_head(engine)
        if head is not None and head.revision == self._provider.status.revision:
            self._provider.apply_unchanged(head.revision)
            return False
        stored = await read_stored(engine) if head is not None else None
        before = self._provider.status
        changed = self._provider.apply(stored.document.encode() if stored else None,
                                       stored.revision if stored else None)
        self._after_refresh(before)
        return changed

    async def _import_file(self, engine: AsyncEngine, head: FlagHead | None) -> bool:
        """Write FLAGS_FILE into the table when this process sees content it has not looked at
        yet and the table has not imported (by sha256). Only a change seen here imports: two
        processes with different files do not take turns overwriting each other."""
        path = self._settings.flags_file
        if path is None:
            return False
        try:
            raw = path.read_bytes()
        except OSError:
            return False  # no file: the table alone decides
        digest = hashlib.sha256(raw).hexdigest()
        if digest == self._file_seen:
            return False
        self._file_seen = digest
        if head is not None and head.file_sha256 == digest:
            return False
        try:
            text = raw.decode("utf-8")
            parse_flag_document(text)
        except (UnicodeDecodeError, FlagConfigError) as exc:
            log.warning("flags.import_skipped", path=str(path), error=str(exc),
                        detail="the flags file is not valid; the stored values stay")
            return False
        try:
            revision = await write(engine, text, f"file:{path.name}",
                                   head.revision if head else None, file_sha256=digest)
        except FlagRevisionConflict:
            self._file_seen = None  # someone wrote meanwhile: look again next poll
            return False
        log.info("flags.imported", path=str(path), revision=revision, sha256=digest[:12])
        return True

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
                "store": self.store,
                "revision": status.revision,
            },
        }


def get_flags(request: Request) -> FlagService:
    """FastAPI dependency: the app's flag service."""
    flags: FlagService = request.app.state.flags
    return flags


Flags = Annotated[FlagService, Depends(get_flags)]
