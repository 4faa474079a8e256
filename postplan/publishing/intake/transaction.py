"""The publish intake transaction, written once for the endpoint and for the spool drain.

Both record a publish the same way: claim the `Idempotency-Key` (its own committed
transaction), then in one transaction record the intents (`service.publish_calendar`) and store
the answer on the key, commit; on any error before the commit, give the key back so a
corrected retry is a new request. The drain also stamps each intent it wrote with a
`dedupe_key` in that same transaction (see `spooled`).

Keys are scoped per user and per route, and the fingerprint names the route: the endpoint and
the drain compute it here from the one `PATH`, so a client retrying after the drain applied its
spooled request replays the drain's answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from postplan.config import Settings
from postplan.core.flags import FlagService
from postplan.core.logging import get_logger
from postplan.publishing.gateway import ChannelGateway
from postplan.publishing.intake import idempotency, service
from postplan.publishing.schemas import PublishBody

log = get_logger(__name__)

#: The publish route under the API prefix; the endpoint is declared with it.
PATH = "/calendars/{calendar_id}/publish"
#: Where the API is mounted (`postplan.api`); part of the route a key's fingerprint names.
API_PREFIX = "/v1"
#: The idempotency scope (and spool record kind) of a publish.
SCOPE = "publish"

#: Extra writes in the intake transaction, given the session and what was recorded.
Stamp = Callable[[AsyncSession, service.Outcome], Awaitable[None]]


def fingerprint(calendar_id: uuid.UUID | str, body: dict[str, Any]) -> str:
    """The key's request fingerprint: the route with its calendar id, and the body as parsed
    (`PublishBody.model_dump(mode="json")`, field names)."""
    route = f"POST {API_PREFIX}{PATH.format(calendar_id=calendar_id)}"
    return idempotency.request_hash(route, body)


async def claim_key(maker: async_sessionmaker[AsyncSession], user_id: str, key: str,
                    calendar_id: uuid.UUID | str, body: dict[str, Any],
                    ) -> idempotency.Claim | idempotency.Replay:
    """Claim a publish's `Idempotency-Key` for this request, or the stored answer to replay."""
    return await idempotency.begin(maker, user_id, SCOPE, key, fingerprint(calendar_id, body))


@dataclass(frozen=True)
class Recorded:
    """A committed publish: what was recorded and its answer, serialised once."""

    outcome: service.Outcome
    #: The JSON body, as answered and as stored for replays.
    raw: str


async def record(
    maker: async_sessionmaker[AsyncSession], claim: idempotency.Claim | None, *,
    settings: Settings, flags: FlagService, gateway: ChannelGateway, user_id: str,
    calendar_id: uuid.UUID, body: PublishBody, request_id: str | None, now: dt.datetime,
    stamp: Stamp | None = None,
) -> Recorded:
    """Record the publish and the key's answer in one transaction, committed; on any error the
    claim is released first (a release that fails too is logged: the claim then goes stale and
    is taken over), and the error is raised as it came."""
    try:
        async with maker() as session:
            outcome = await service.publish_calendar(
                session, settings=settings, flags=flags, gateway=gateway, user_id=user_id,
                calendar_id=calendar_id, body=body, request_id=request_id, now=now)
            if stamp is not None:
                await stamp(session, outcome)
            # pydantic's own serializer: one pass, no intermediate dicts (a 2,000-intent
            # answer spent a tenth of the request in model_dump + json.dumps).
            raw = outcome.body.model_dump_json(by_alias=True)
            if claim is not None:
                await idempotency.finish(session, claim, outcome.status_code, {"raw": raw})
            await session.commit()
    except BaseException:
        if claim is not None:
            try:
                await asyncio.shield(idempotency.release(maker, claim))
            except Exception as exc:  # the database went away again; the claim goes stale
                log.warning("idempotency.claim_release_failed", scope=SCOPE,
                            errorType=type(exc).__name__)
        raise
    return Recorded(outcome, raw)
