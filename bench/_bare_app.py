"""The baseline for bench_overhead: a bare Starlette endpoint doing postplan's database work.

Same engine factory, same two ORM queries as `GET /v1/calendars/{id}/entries` (the calendar by
id and owner, then its entries in `scheduledAt` order), a hand-built JSON body; no middleware,
auth, validation, logging or problem handling.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from postplan.core.db import create_engine, create_sessionmaker
from postplan.models import Calendar, CalendarEntry


def app_factory() -> Starlette:
    url = os.environ["DATABASE_URL"]
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(url)
        state["maker"] = create_sessionmaker(engine)
        yield
        await engine.dispose()

    async def entries(request: Request) -> JSONResponse:
        calendar_id = uuid.UUID(request.path_params["calendar_id"])
        user_id = request.headers.get("x-user-id", "local")
        maker = state["maker"]
        async with maker() as session:  # type: ignore[operator]
            calendar = (await session.execute(select(Calendar).where(
                Calendar.id == calendar_id, Calendar.user_id == user_id))).scalar_one_or_none()
            if calendar is None:
                return JSONResponse({"detail": "not found"}, status_code=404)
            rows = (await session.execute(
                select(CalendarEntry).where(CalendarEntry.calendar_id == calendar_id,
                                            CalendarEntry.user_id == user_id)
                .order_by(CalendarEntry.scheduled_at, CalendarEntry.id).limit(1001)
            )).scalars().all()
        items = [{
            "id": str(e.id), "calendarId": str(e.calendar_id), "runId": str(e.run_id),
            "channel": e.channel, "format": e.format, "scheduledAt": e.scheduled_at.isoformat(),
            "timezone": e.timezone, "pillar": e.pillar, "hook": e.hook, "caption": e.caption,
            "hashtags": e.hashtags, "callToAction": e.call_to_action,
            "assetNotes": e.asset_notes, "media": e.media, "version": e.version,
            "edited": e.edited, "updatedAt": e.updated_at.isoformat(),
        } for e in rows]
        return JSONResponse({"items": items, "nextCursor": None})

    return Starlette(routes=[Route("/v1/calendars/{calendar_id}/entries", entries)],
                     lifespan=lifespan)
