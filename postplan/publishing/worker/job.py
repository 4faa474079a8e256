"""One claimed intent and the steps every path through it shares.

A job drives one intent one step along the state machine: a fresh intent through
`fresh.submit`, an intent already sent through `followup` (poll, reconcile), and a job that
crashed through `followup.after_crash`; `dispatch.run_job` picks the path. Everything here is
used by both: fenced moves with their attempt rows, the final word (`finish`), retry or fail,
credentials, and calls that send nothing irreversible. Every write is fenced by the claim token.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from postplan.channels.base import (
    AuthError,
    ChannelAdapter,
    ChannelError,
    Credentials,
    OAuthClient,
    OutcomeUnknown,
    PermanentError,
    PublishRequest,
    RetryLater,
)
from postplan.core.context import bound
from postplan.core.logging import get_logger
from postplan.core.metrics import PUBLISH_RESULTS
from postplan.publishing.connections.credentials import Stored, mark_needs_reauth
from postplan.publishing.media import bind_stored_media
from postplan.publishing.states import Event, IntentStatus
from postplan.publishing.worker.claims import (
    Claimed,
    attempt_row,
    transition,
    update_claimed,
)
from postplan.publishing.worker.context import JobContext
from postplan.publishing.worker.revalidate import (
    StoredRequestRefused,
    already_published,
    load_request,
)

log = get_logger("postplan.publishing.worker")

S = IntentStatus
T = TypeVar("T")


class Stop(Exception):
    """The job has written its final word for this round."""


def error_of(exc: BaseException) -> dict[str, Any]:
    """The intent `error` for an exception: a channel's own, or a bare internal error."""
    if isinstance(exc, ChannelError):
        error = exc.as_error()
        if isinstance(exc, OutcomeUnknown) and exc.http_status:
            # The platform answered (a 5xx): reconcile need not wait for a call in flight.
            error["httpStatus"] = exc.http_status
        return error
    return {"code": "internal_error", "message": f"{type(exc).__name__} in the worker"}


class Job:
    """The state of one claimed intent while a worker holds it."""

    #: Set by `load` once the stored row passed its checks; nothing is sent before.
    adapter: ChannelAdapter
    req: PublishRequest

    def __init__(self, ctx: JobContext, claimed: Claimed) -> None:
        self.ctx = ctx
        self.cfg = ctx.config
        self.row = claimed.row
        self.previous = claimed.previous
        self.token = claimed.token
        self.entry_version_now = claimed.entry_version_now
        self.connection = claimed.connection
        self.published_before = claimed.published_before
        self.status: str = claimed.row.status
        self.handle: str | None = claimed.row.platform_handle
        self.log_rows: list[dict[str, Any]] = []
        self.refreshed = False
        self.creds: Credentials | None = None
        #: Why there are no credentials (None: a transient refresh failure, try later).
        self.auth_error: dict[str, Any] | None = None
        #: A refresh is due but was not done while a connection was held (see `credentials`).
        self.refresh_due = False
        self.polls: int = int(claimed.row.polls or 0)
        #: Seconds this job may still spend polling inline, keeping its claim.
        self.inline_left: float = ctx.config.inline_poll_budget
        self.lease_until: datetime = claimed.row.lease_expires_at or ctx.clock()

    async def load(self) -> None:
        """The adapter and the stored request, checked again as the API checked them before
        storing it. A request the API would have refused, or a send of an intent that already
        went live, ends `failed` here: nothing is sent and no URL in it is fetched."""
        refusal: StoredRequestRefused | None
        sending = self.status == S.claimed
        try:
            self.adapter, self.req = load_request(self.row, self.ctx.gateway.adapter,
                                                  self.now(), sending=sending)
            refusal = already_published(self.row, self.published_before) if sending else None
        except StoredRequestRefused as exc:
            refusal = exc
        if refusal is None and sending:
            try:
                # Stored files: fresh signed URLs, bytes read as this intent's user.
                self.req = await bind_stored_media(self.ctx.engine, self.ctx.settings,
                                                   self.row.user_id, self.req)
            except PermanentError as exc:
                await self.finish(Event.permanent_failure, "failed", error=exc.as_error())
        if refusal is not None:
            # Not something the API stores: the row was changed behind postplan's back.
            log.error("publish.stored_request_refused", code=refusal.code,
                      findings=[f.code for f in refusal.findings])
            await self.finish(Event.permanent_failure, "failed", error=refusal.as_error())

    def now(self) -> datetime:
        """The worker's clock."""
        return self.ctx.clock()

    def log_step(self, step: str, outcome: str, started: datetime, *,
                 error: dict[str, Any] | None = None,
                 detail: dict[str, Any] | None = None) -> None:
        """Note an attempt row; it is written with the next move."""
        self.log_rows.append(attempt_row(self.row, step, outcome, started=started,
                                         finished=self.now(), error=error, detail=detail))

    def _flush(self) -> list[dict[str, Any]]:
        rows, self.log_rows = self.log_rows, []
        return rows

    async def move(self, event: Event, *, release: bool = False, **values: Any) -> None:
        """Move the intent along one edge, with the attempt rows noted so far."""
        self.status = await transition(self.ctx.engine, self.row.id, self.token, self.status,
                                       event, now=self.now(), log_rows=self._flush(),
                                       release=release, row=self.row, **values)

    async def update(self, **values: Any) -> None:
        """Write fields of the intent without changing its status (fenced like a move)."""
        await update_claimed(self.ctx.engine, self.row.id, self.token, self.status, **values)

    async def finish(self, event: Event, outcome: str, **values: Any) -> None:
        """The final move of this intent (claim released), counted and logged; raises Stop."""
        await self.move(event, release=True, **values)
        if outcome == "needs_reauth":
            await mark_needs_reauth(self.ctx.engine, self.row.user_id, self.row.channel,
                                    values.get("error"))
        PUBLISH_RESULTS.labels(channel=self.row.channel, outcome=outcome).inc()
        with bound(status=self.status):
            level = log.info if outcome == "published" else log.warning
            level(f"publish.{outcome}", error=values.get("error"),
                  platformPostId=values.get("platform_post_id"))
        raise Stop

    def backoff(self, exc: ChannelError | None) -> float:
        """Seconds until the next try: doubling per attempt, jittered; a platform's own
        Retry-After wins."""
        attempts = int(self.row.attempts)
        base = min(self.cfg.retry_cap, self.cfg.retry_base * 2.0 ** max(0, attempts - 1))
        base *= random.uniform(0.8, 1.2)
        if isinstance(exc, RetryLater):
            return float(exc.retry_after if exc.from_platform else max(exc.retry_after, base))
        return base

    async def retry_or_fail(self, exc: ChannelError | Exception) -> None:
        """Nothing was sent: try again later, or fail with the last reason once out of tries."""
        error = error_of(exc)
        if isinstance(exc, ChannelError) and exc.handle:
            self.handle = exc.handle
        if self.row.attempts >= self.cfg.max_attempts:
            error = {**error, "message": f"{error['message']} (gave up after "
                                         f"{self.row.attempts} attempts)"}
            await self.finish(Event.permanent_failure, "failed", error=error,
                              platform_handle=self.handle)
        delay = self.backoff(exc if isinstance(exc, ChannelError) else None)
        await self.move(Event.retry_later, release=True, error=error,
                        platform_handle=self.handle,
                        run_after=self.now() + timedelta(seconds=delay))
        PUBLISH_RESULTS.labels(channel=self.row.channel, outcome="retry").inc()
        log.info("publish.retry_scheduled", delaySeconds=round(delay, 3), code=error["code"],
                 attempt=self.row.attempts)
        raise Stop

    async def credentials(self, force: bool = False, conn: AsyncConnection | None = None,
                          stored: Stored | None = None) -> Credentials | None:
        """The account's credentials (refreshed when due or `force`), or None: then
        `auth_error` says why, or `refresh_due` that a refresh waits for `conn` to be let go."""
        oauth: OAuthClient | None = None
        if self.ctx.settings.adapter_configured(self.row.channel):
            try:
                oauth = self.ctx.gateway.oauth(self.row.channel)
            except Exception:  # no OAuth client available: use the stored token as is
                oauth = None
        started = self.now()
        result = await self.ctx.credentials.get(self.row.user_id, self.row.channel, oauth,
                                                force_refresh=force, conn=conn, stored=stored)
        if result.refresh_due:
            self.refresh_due = True
            return None
        if force or result.error:
            self.log_step("credentials", "ok" if result.creds else
                          ("retry" if result.transient else "auth_failed"), started,
                          error=result.error, detail={"refresh": force})
        if result.creds is None:
            if result.transient:
                return None
            log.warning("adapter.auth_missing", code=(result.error or {}).get("code"))
            self.auth_error = result.error
            return None
        self.creds = result.creds
        self.req = self.req.model_copy(update={"account_id": result.creds.account_id})
        return result.creds

    async def call(self, step: str, fn: Callable[[Credentials], Awaitable[T]],
                   outcome: Callable[[T], str] | None = None) -> T:
        """A call that sends nothing irreversible; an AuthError gets one refresh and one retry.
        Its attempt row says `ok`, or what `outcome` makes of the value."""
        while True:
            assert self.creds is not None
            started = self.now()
            try:
                value = await fn(self.creds)
            except AuthError as exc:
                self.log_step(step, "auth_failed", started, error=exc.as_error())
                if self.refreshed or exc.needs_scope:
                    raise
                self.refreshed = True
                if await self.credentials(force=True) is None:
                    raise
                continue
            except ChannelError as exc:
                self.log_step(step, type(exc).__name__, started, error=exc.as_error())
                raise
            self.log_step(step, "ok" if outcome is None else outcome(value), started)
            return value
