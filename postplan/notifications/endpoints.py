"""HTTP API of notifications and webhooks (DESIGN §9, docs/notifications.md)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from postplan.config import AuthMode
from postplan.core.auth import CurrentUser
from postplan.core.deps import AppSettings, Session, WriteSession
from postplan.core.openapi import problem_responses
from postplan.core.pagination import Cursor
from postplan.core.schemas import Page
from postplan.notifications import store
from postplan.notifications.schemas import (
    DeliveryOut,
    NotificationOut,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
)
from postplan.notifications.urlcheck import check_url

router = APIRouter(tags=["notifications"])


@router.get("/notifications", response_model=Page[NotificationOut])
async def list_notifications(
    user: CurrentUser, session: Session,
    limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: Cursor = None,
) -> Page[NotificationOut]:
    """The caller's events, newest first (`intent.published`, `run.completed`, …)."""
    rows, next_cursor = await store.list_notifications(session, user.id, limit, cursor)
    return Page[NotificationOut](items=[NotificationOut.model_validate(r) for r in rows],
                                 next_cursor=next_cursor)


@router.post("/webhooks", response_model=WebhookCreated, status_code=201,
             responses=problem_responses(422, 503))
async def create_webhook(body: WebhookIn, user: CurrentUser, session: WriteSession,
                         settings: AppSettings) -> WebhookCreated:
    """Add an endpoint for some (or all) events. The answer holds the Standard Webhooks signing
    secret (`whsec_…`), shown this once. The URL must be https (plain http only to loopback in
    dev mode) and must not resolve to a private or link-local address (422
    `webhook_url_forbidden`)."""
    url = str(body.url)
    await check_url(url, dev=settings.auth_mode is AuthMode.dev)
    hook, secret = await store.create_webhook(session, settings, user.id, url, body.events)
    return WebhookCreated.model_validate({**WebhookOut.model_validate(hook).model_dump(),
                                          "secret": secret})


@router.get("/webhooks", response_model=Page[WebhookOut])
async def list_webhooks(user: CurrentUser, session: Session) -> Page[WebhookOut]:
    """The caller's webhooks (secrets are never shown again)."""
    rows = await store.list_webhooks(session, user.id)
    return Page[WebhookOut](items=[WebhookOut.model_validate(r) for r in rows],
                            next_cursor=None)


@router.delete("/webhooks/{webhook_id}", status_code=204, responses=problem_responses(404))
async def delete_webhook(webhook_id: uuid.UUID, user: CurrentUser,
                         session: WriteSession) -> Response:
    """Remove a webhook; its pending deliveries are dropped."""
    await store.delete_webhook(session, user.id, webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=Page[DeliveryOut],
            responses=problem_responses(404))
async def list_deliveries(
    webhook_id: uuid.UUID, user: CurrentUser, session: Session,
    limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: Cursor = None,
) -> Page[DeliveryOut]:
    """Every delivery of an event to this webhook, newest first: status, attempts, the last
    answer's status code or error, the next attempt."""
    rows, next_cursor = await store.list_deliveries(session, user.id, webhook_id, limit, cursor)
    return Page[DeliveryOut](items=[DeliveryOut.model_validate(r) for r in rows],
                             next_cursor=next_cursor)
