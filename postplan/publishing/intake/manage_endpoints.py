"""HTTP API of the intents a person settles: cancel, resolve, retry (DESIGN §9)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import Field, StringConstraints

from postplan.core.auth import CurrentUser
from postplan.core.db import utcnow
from postplan.core.deps import WriteSession
from postplan.core.openapi import problem_responses
from postplan.core.schemas import InputSchema
from postplan.core.validators import HTTP_URL_PATTERN, NoNul
from postplan.publishing.intake import manage
from postplan.publishing.intake.queries import get_intent
from postplan.publishing.schemas import IntentDetail

router = APIRouter(tags=["publishing"])


class ResolveBody(InputSchema):
    """`{"outcome": "published", "platformPostId"?, "url"?}` or `{"outcome": "not_published"}`."""

    outcome: Literal["published", "not_published"]
    platform_post_id: Annotated[str, StringConstraints(min_length=1, max_length=200),
                                NoNul()] | None = None
    url: Annotated[str, StringConstraints(max_length=2048, pattern=HTTP_URL_PATTERN),
                   NoNul()] | None = Field(None, description="the post's address, when known")


class CancelOut(IntentDetail):
    """The intent after the cancel; `cancelled` says whether it is cancelled (always true on a
    200: a cancel that came too late is a 409 naming the status)."""

    cancelled: bool


@router.post("/publish-intents/{intent_id}/cancel", response_model=CancelOut,
             responses=problem_responses(404, 409))
async def cancel_intent(intent_id: uuid.UUID, user: CurrentUser,
                        session: WriteSession) -> CancelOut:
    """Cancel an intent that has not reached the platform (`pending` or `claimed`).

    Race-safe against a worker claiming it at the same moment: the intent is either cancelled
    (200) or being sent / sent (409 `intent_not_cancellable`, with `status` and `sent`)."""
    await manage.cancel(session, user.id, intent_id, utcnow())
    detail = await get_intent(session, user.id, intent_id)
    return CancelOut.model_validate({**detail.model_dump(), "cancelled": True})


@router.post("/publish-intents/{intent_id}/resolve", response_model=IntentDetail,
             responses=problem_responses(404, 409))
async def resolve_intent(intent_id: uuid.UUID, body: ResolveBody, user: CurrentUser,
                         session: WriteSession) -> IntentDetail:
    """Settle an `unknown` intent by hand; 409 `intent_not_unknown` for any other status.
    `not_published` ends it `failed` (code `not_published`): the entry may be published again."""
    await manage.resolve(session, user.id, intent_id, outcome=body.outcome,
                         platform_post_id=body.platform_post_id, url=body.url, now=utcnow())
    return await get_intent(session, user.id, intent_id)


@router.post("/publish-intents/{intent_id}/retry", response_model=IntentDetail,
             responses=problem_responses(404, 409))
async def retry_intent(intent_id: uuid.UUID, user: CurrentUser,
                       session: WriteSession) -> IntentDetail:
    """Queue a failed live intent again (the same intent, back to `pending`); 409
    `intent_not_retryable` when it is not failed, went live before, or another publish of the
    entry is queued."""
    await manage.retry(session, user.id, intent_id, utcnow())
    return await get_intent(session, user.id, intent_id)
