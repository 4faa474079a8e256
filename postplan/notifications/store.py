"""Reading a user's notifications; creating, listing and deleting their webhooks; listing a
webhook's deliveries. Every query is scoped to one user."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from postplan.config import Settings
from postplan.core.crypto import TokenCipher
from postplan.core.db import begin_write, utcnow
from postplan.core.errors import AppError, NotFound
from postplan.core.pagination import decode_cursor, keyset_page, split_page
from postplan.core.rotation import EncryptedColumn
from postplan.models import Notification, Webhook, WebhookDelivery
from postplan.notifications.outbox import EVENTS

#: Webhooks one user may have.
MAX_WEBHOOKS = 20

#: Webhook signing secrets, re-encrypted by `postplan tokens reencrypt` with the tokens.
ENCRYPTED: tuple[EncryptedColumn, ...] = ((cast(Table, Webhook.__table__), "secret_enc"),)


class SecretKeyMissing(AppError):
    status_code = 503
    code = "token_encryption_key_missing"
    title = "Secret encryption is not configured"


class TooManyWebhooks(AppError):
    status_code = 422
    code = "too_many_webhooks"
    title = "Too many webhooks"


def cipher(settings: Settings) -> TokenCipher:
    """The cipher webhook secrets are stored with (the channel tokens' key)."""
    if settings.token_encryption_key is None:
        raise SecretKeyMissing("set TOKEN_ENCRYPTION_KEY to store webhook signing secrets")
    return TokenCipher(settings.token_encryption_key.get_secret_value())


def new_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


async def list_notifications(session: AsyncSession, user_id: str, limit: int,
                             cursor: str | None) -> tuple[Sequence[Notification], str | None]:
    """The user's events, newest first, keyset-paged."""
    stmt = keyset_page(select(Notification).where(Notification.user_id == user_id),
                       (Notification.created_at, Notification.id), decode_cursor(cursor),
                       limit + 1, descending=True)
    rows = (await session.execute(stmt)).scalars().all()
    return split_page(rows, limit, lambda n: (n.created_at, n.id))


async def create_webhook(session: AsyncSession, settings: Settings, user_id: str, url: str,
                         events: Sequence[str] | None) -> tuple[Webhook, str]:
    """Store a webhook; returns it with its secret (the only time the secret is seen)."""
    box = cipher(settings)
    await begin_write(session)
    held = len((await session.execute(
        select(Webhook.id).where(Webhook.user_id == user_id))).all())
    if held >= MAX_WEBHOOKS:
        raise TooManyWebhooks(f"a user may have at most {MAX_WEBHOOKS} webhooks",
                              extra={"limit": MAX_WEBHOOKS})
    secret = new_secret()
    now = utcnow()
    hook = Webhook(id=uuid.uuid4(), user_id=user_id, url=url,
                   events=list(events) if events else list(EVENTS),
                   secret_enc=box.encrypt(secret), created_at=now, updated_at=now)
    session.add(hook)
    await session.flush()
    return hook, secret


async def list_webhooks(session: AsyncSession, user_id: str) -> Sequence[Webhook]:
    """The user's webhooks, oldest first."""
    return (await session.execute(
        select(Webhook).where(Webhook.user_id == user_id)
        .order_by(Webhook.created_at, Webhook.id))).scalars().all()


async def get_webhook(session: AsyncSession, user_id: str, webhook_id: uuid.UUID) -> Webhook:
    """The user's webhook, or 404 (also for another user's id)."""
    hook = (await session.execute(select(Webhook).where(
        Webhook.id == webhook_id, Webhook.user_id == user_id))).scalar_one_or_none()
    if hook is None:
        raise NotFound("webhook not found", code="webhook_not_found")
    return hook


async def delete_webhook(session: AsyncSession, user_id: str, webhook_id: uuid.UUID) -> None:
    """Remove a webhook and its pending deliveries (none is sent after this)."""
    await begin_write(session)
    await get_webhook(session, user_id, webhook_id)
    await session.execute(delete(WebhookDelivery).where(
        WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.user_id == user_id))
    await session.execute(delete(Webhook).where(Webhook.id == webhook_id,
                                                Webhook.user_id == user_id))


async def list_deliveries(session: AsyncSession, user_id: str, webhook_id: uuid.UUID,
                          limit: int, cursor: str | None
                          ) -> tuple[Sequence[WebhookDelivery], str | None]:
    """A webhook's deliveries, newest first."""
    await get_webhook(session, user_id, webhook_id)
    stmt = keyset_page(
        select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id,
                                      WebhookDelivery.user_id == user_id),
        (WebhookDelivery.created_at, WebhookDelivery.id), decode_cursor(cursor), limit + 1,
        descending=True)
    rows = (await session.execute(stmt)).scalars().all()
    return split_page(rows, limit, lambda d: (d.created_at, d.id))
