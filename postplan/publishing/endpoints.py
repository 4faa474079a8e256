"""Publishing HTTP API: publish a calendar, read intents, manage channel connections."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from postplan.core.auth import CurrentUser
from postplan.core.context import bind, request_id_var
from postplan.core.db import utcnow
from postplan.core.deps import AppSettings, Session, WriteSession, WriteSessions
from postplan.core.flags import Flags
from postplan.core.metrics import REQUEST_LATENCY
from postplan.core.openapi import link, problem_response, problem_responses
from postplan.core.pagination import Cursor
from postplan.core.schemas import Page
from postplan.core.vocab import Channel
from postplan.publishing import (
    connections,
    idempotency,
    oauth,
    oauth_binding,
    queries,
    service,
    spooled,
)
from postplan.publishing.gateway import Gateway
from postplan.publishing.schemas import (
    ConnectionIn,
    ConnectionOut,
    IntentDetail,
    IntentOut,
    OAuthStartOut,
    PublishBody,
    PublishResponse,
)
from postplan.publishing.states import IntentStatus

router = APIRouter(tags=["publishing"])

#: The `{channel}` path segment. Documented as the known channels; any other name answers 404
#: `unknown_channel` (a resource that does not exist), so it is not enforced as a 422 here.
ChannelName = Annotated[str, Path(max_length=32, description="tiktok or instagram",
                                  json_schema_extra={"enum": [c.value for c in Channel]})]
#: What an Idempotency-Key may hold: 1-255 visible ASCII characters or spaces.
IDEMPOTENCY_KEY_PATTERN = r"^[\x20-\x7e]{1,255}$"


@router.post("/calendars/{calendar_id}/publish", response_model=PublishResponse,
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
        if idempotency_key is not None:
            key = idempotency.check_key(idempotency_key)
            fingerprint = idempotency.request_hash(
                f"POST /v1/calendars/{calendar_id}/publish", body.model_dump(mode="json"))
            begun = await idempotency.begin(maker, user.id, "publish", key, fingerprint)
            if isinstance(begun, idempotency.Replay):
                return Response(begun.body["raw"], status_code=begun.status,
                                media_type="application/json",
                                headers={"Idempotent-Replayed": "true"})
            claim = begun
        try:
            async with maker() as session:
                outcome = await service.publish_calendar(
                    session, settings=settings, flags=flags, gateway=gateway,
                    user_id=user.id, calendar_id=calendar_id, body=body,
                    request_id=request_id_var.get(), now=utcnow(),
                )
                # pydantic's own serializer: one pass, no intermediate dicts (a 2,000-intent
                # answer spent a tenth of the request in model_dump + json.dumps).
                raw = outcome.body.model_dump_json(by_alias=True)
                if claim is not None:
                    await idempotency.finish(session, claim, outcome.status_code, {"raw": raw})
                await session.commit()
        except BaseException:
            if claim is not None:
                await asyncio.shield(idempotency.release(maker, claim))
            raise
        bind(status=str(outcome.status_code))
        return Response(raw, status_code=outcome.status_code, media_type="application/json")
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


@router.put("/channels/{channel}/connection", response_model=ConnectionOut,
            responses=problem_responses(404))
async def put_connection(channel: ChannelName, body: ConnectionIn, user: CurrentUser,
                         session: WriteSession, settings: AppSettings) -> ConnectionOut:
    """Store a channel's tokens (encrypted with `TOKEN_ENCRYPTION_KEY`); never echoed."""
    bind(channel=channel)
    return await connections.put_connection(session, settings, user.id, channel, body)


@router.get("/channels/{channel}/connection", response_model=ConnectionOut,
            responses=problem_responses(404))
async def get_connection(channel: ChannelName, user: CurrentUser, session: Session,
                         settings: AppSettings) -> ConnectionOut:
    """The connection's status, account and a masked token preview."""
    bind(channel=channel)
    return await connections.get_connection(session, settings, user.id, channel)


@router.get("/channels/{channel}/oauth/start", response_model=OAuthStartOut,
            responses={302: {"description": "redirect to the platform's consent page"},
                       **problem_responses(404)})
async def oauth_start(channel: ChannelName, user: CurrentUser, session: WriteSession,
                      request: Request, settings: AppSettings, gateway: Gateway,
                      redirect: bool = False) -> Response:
    """Begin the channel's login: the authorize URL (state + PKCE kept server-side, 10 min).
    `?redirect=true` answers 302 to it instead of JSON. Sets an HttpOnly cookie binding the login
    to this browser: the callback must be reached by the same browser."""
    bind(channel=channel)
    nonce = oauth_binding.nonce_for(request)
    out = await oauth.start(session, settings, gateway, user.id, channel,
                            browser_nonce=nonce)
    response: Response
    if redirect:
        response = RedirectResponse(out.authorize_url, status_code=302)
    else:
        response = JSONResponse(out.model_dump(mode="json", by_alias=True))
    response.headers["Cache-Control"] = "no-store"
    oauth_binding.set_cookie(response, request, settings, channel, nonce,
                             max_age=int(oauth.STATE_TTL.total_seconds()))
    return response


@router.get("/channels/{channel}/oauth/callback", response_model=ConnectionOut, responses={
    **problem_responses(404, 502),
    400: problem_response(400, "state unknown, used or expired (`oauth_state_invalid`); "
                               "login denied"),
    403: problem_response(403, "the login was started in another browser "
                               "(`oauth_state_mismatch`)")})
async def oauth_callback(
    channel: ChannelName, session: WriteSession, request: Request, settings: AppSettings,
    gateway: Gateway,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=256)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
    error_description: Annotated[str | None, Query(max_length=1024)] = None,
) -> ConnectionOut:
    """The platform's redirect back: the single-use state names the user, the binding cookie the
    browser that started the login; tokens are stored encrypted and never returned."""
    bind(channel=channel)
    return await oauth.callback(session, settings, gateway, channel, code=code, state=state,
                                error=error, error_description=error_description,
                                browser_nonce=oauth_binding.held_nonce(request))


@router.delete("/channels/{channel}/connection", status_code=204,
               responses=problem_responses(404))
async def delete_connection(channel: ChannelName, user: CurrentUser,
                            session: WriteSession) -> Response:
    """Forget the channel's tokens."""
    bind(channel=channel)
    await connections.delete_connection(session, user.id, channel)
    return Response(status_code=204)
