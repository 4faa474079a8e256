"""Publishing HTTP API: publish a calendar, read its intents."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from postplan.core.auth import CurrentUser
from postplan.core.context import bind, request_id_var
from postplan.core.db import utcnow
from postplan.core.deps import AppSettings, Session, WriteSessions
from postplan.core.flags import Flag, Flags
from postplan.core.metrics import REQUEST_LATENCY
from postplan.core.openapi import link, problem_responses
from postplan.core.pagination import Cursor
from postplan.core.schemas import Page
from postplan.publishing.gateway import Gateway
from postplan.publishing.intake import creator_check, idempotency, queries, spooled, transaction
from postplan.publishing.schemas import IntentDetail, IntentOut, PublishBody, PublishResponse
from postplan.publishing.states import IntentStatus

router = APIRouter(tags=["publishing"])

#: What an Idempotency-Key may hold: 1-255 visible ASCII characters or spaces.
IDEMPOTENCY_KEY_PATTERN = r"^[\x20-\x7e]{1,255}$"


@router.post(transaction.PATH, response_model=PublishResponse,
             responses={200: {"links": {
                            "intent": link("/v1/publish-intents/{intent_id}", "get",
                                           "the first item's intent",
                                           intent_id="$response.body#/results/0/intentId")}},
                        207: {"model": PublishResponse},
                        202: {"model": spooled.QueuedPublishResponse,
                              "description": "database unreachable: spooled, applied later"},
                        **problem_responses(404, 409)})
async def publish(
    calendar_id: uuid.UUID,
    body: PublishBody,
    user: CurrentUser,
    request: Request,
    flags: Flags,
    settings: AppSettings,
    gateway: Gateway,
    maker: WriteSessions,
    session: Session,
    idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key", min_length=1, max_length=255, pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Replays the first answer for the same body (e.g. a UUID)")] = None,
) -> Response:
    """Validate and record one intent per entry × channel; queue live ones for the worker.

    `dryRun` defaults to true. With `PUBLISH_SERVICE_ENABLED` off the answer is always a
    deterministic dry run and no channel API is contacted. 200 when nothing failed, 207 when
    some items failed. `Idempotency-Key` replays the first answer for the same body.
    """
    started = time.perf_counter()
    bind(calendarId=str(calendar_id))
    # Every transaction of this request writes (`maker`: SQLite's write lock before the first
    # read).
    claim: idempotency.Claim | None = None
    try:
        if spooled.database_down(request):  # spool at once instead of waiting on a dead DB
            return await spooled.spool_publish(request, user_id=user.id, calendar_id=calendar_id,
                                               body=body, idempotency_key=idempotency_key)
        if not body.dry_run and flags.is_enabled(Flag.publish_service, user.id):
            # TikTok's creator_info, before any write transaction holds a lock.
            await creator_check.check_creator_choices(session, settings, gateway, user.id,
                                                      calendar_id, body)
        if idempotency_key is not None:
            begun = await transaction.claim_key(maker, user.id,
                                                idempotency.check_key(idempotency_key),
                                                calendar_id, body.model_dump(mode="json"))
            if isinstance(begun, idempotency.Replay):
                return Response(begun.body["raw"], status_code=begun.status,
                                media_type="application/json",
                                headers={"Idempotent-Replayed": "true"})
            claim = begun
        recorded = await transaction.record(
            maker, claim, settings=settings, flags=flags, gateway=gateway,
            user_id=user.id, calendar_id=calendar_id, body=body,
            request_id=request_id_var.get(), now=utcnow())
        status_code = recorded.outcome.status_code
        bind(status=str(status_code))
        return Response(recorded.raw, status_code=status_code, media_type="application/json")
    except Exception as exc:
        if not spooled.can_spool(request, exc):
            raise
        return await spooled.spool_publish(request, user_id=user.id, calendar_id=calendar_id,
                                           body=body, idempotency_key=idempotency_key)
    finally:
        REQUEST_LATENCY.labels(endpoint="publish").observe(time.perf_counter() - started)


@router.get("/publish-intents", response_model=Page[IntentOut],
            responses={200: {"links": {
                "intent": link("/v1/publish-intents/{intent_id}", "get", "the first intent",
                               intent_id="$response.body#/items/0/id"),
                "nextPage": link("/v1/publish-intents", "get", "the next page",
                                 cursor="$response.body#/nextCursor"),
            }}, **problem_responses(404)})
async def list_intents(
    user: CurrentUser,
    session: Session,
    calendar_id: Annotated[uuid.UUID | None, Query(alias="calendarId")] = None,
    status: Annotated[IntentStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Cursor = None,
) -> Page[IntentOut]:
    """The caller's publish intents, newest first, filtered by calendar and status."""
    if calendar_id is not None:
        bind(calendarId=str(calendar_id))
    items, next_cursor = await queries.list_intents(
        session, user.id, calendar_id=calendar_id, status=None if status is None else str(status),
        limit=limit, cursor=cursor)
    return Page[IntentOut](items=items, next_cursor=next_cursor)


@router.get("/publish-intents/{intent_id}", response_model=IntentDetail,
            responses=problem_responses(404))
async def get_intent(intent_id: uuid.UUID, user: CurrentUser, session: Session) -> IntentDetail:
    """One intent with its status, error and every attempt (`attemptLog`)."""
    return await queries.get_intent(session, user.id, intent_id)
