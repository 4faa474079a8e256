"""Channel connections over HTTP: store, read and forget tokens; the OAuth login."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from postplan.core.auth import CurrentUser
from postplan.core.context import bind
from postplan.core.deps import AppSettings, Session, WriteSession
from postplan.core.openapi import problem_response, problem_responses
from postplan.core.vocab import Channel
from postplan.publishing.connections import oauth, oauth_binding
from postplan.publishing.connections import store as connections
from postplan.publishing.gateway import Gateway
from postplan.publishing.schemas import ConnectionIn, ConnectionOut, OAuthStartOut

router = APIRouter(tags=["publishing"])

#: The `{channel}` path segment. Documented as the known channels; any other name answers 404
#: `unknown_channel` (a resource that does not exist), so it is not enforced as a 422 here.
ChannelName = Annotated[str, Path(max_length=32, description="tiktok or instagram",
                                  json_schema_extra={"enum": [c.value for c in Channel]})]


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
    out = await oauth.start(session, settings, gateway, user.id, channel, browser_nonce=nonce)
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
