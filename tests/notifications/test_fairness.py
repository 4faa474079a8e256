"""A hanging endpoint with a backlog holds its own share of the delivery slots, never all of
them: another user's webhook is delivered while it hangs (through a real receiver on
loopback, on SQLite and Postgres)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from postplan.config import Settings
from postplan.core.db import utcnow
from postplan.models import Notification
from postplan.notifications.delivery import DeliveryLoop
from postplan.notifications.store import create_webhook
from tests.fixtures.apps import LiveServer
from tests.notifications.receiver import Endpoint, receiver_app
from tests.publishing.conftest import APP_CREDS

pytestmark = pytest.mark.timeout(60)


async def _hook(engine: Any, settings: Settings, user: str, url: str) -> str:
    async with AsyncSession(bind=engine) as session:
        _row, secret = await create_webhook(session, settings, user, url, None)
        await session.commit()
    return secret


async def test_a_hanging_endpoint_with_a_backlog_does_not_hold_every_slot(
    settings_factory: Callable[..., Settings], engine: Any,
) -> None:
    settings = settings_factory(WEBHOOK_CONCURRENCY=4, WEBHOOK_PER_ENDPOINT=2,
                                WEBHOOK_TIMEOUT_SECONDS=5, WEBHOOK_POLL_SECONDS=0.05,
                                **APP_CREDS)
    endpoints = {"stuck": Endpoint(script=["hang"] * 6, hang_seconds=4.0),
                 "fine": Endpoint()}
    receiver = LiveServer(receiver_app(endpoints))  # type: ignore[arg-type]
    receiver.start()
    try:
        endpoints["stuck"].secret = await _hook(engine, settings, "ann",
                                                f"{receiver.url}/stuck")
        endpoints["fine"].secret = await _hook(engine, settings, "bob", f"{receiver.url}/fine")
        # Ann's six events are older than Bob's one: by age alone they would take every slot.
        now = utcnow()
        async with AsyncSession(bind=engine) as session:
            for i in range(6):
                session.add(Notification(id=uuid.uuid4(), user_id="ann",
                                         event="intent.published", data={"n": i},
                                         created_at=now - dt.timedelta(seconds=10 - i)))
            session.add(Notification(id=uuid.uuid4(), user_id="bob", event="intent.published",
                                     data={"n": 0}, created_at=now))
            await session.commit()
        loop = DeliveryLoop(engine, settings)
        started = time.monotonic()
        async with loop.running():
            for _ in range(200):
                if endpoints["fine"].verified:
                    break
                await asyncio.sleep(0.05)
            waited = time.monotonic() - started
            in_flight = list(endpoints["stuck"].attempts)
        assert endpoints["fine"].verified, "Bob's delivery never arrived"
        # Delivered while Ann's endpoint hung (4 s), with at most two of hers in flight.
        assert waited < 3.0, waited
        assert len(in_flight) <= 2, in_flight
    finally:
        receiver.stop()
