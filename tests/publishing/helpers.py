"""Driving the worker in tests: queue live intents, a controllable clock, status counts."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.config import Settings
from postplan.core.crypto import TokenCipher
from postplan.core.db import create_sessionmaker, utcnow
from postplan.core.flags import FlagService
from postplan.publishing.connections import store as connections
from postplan.publishing.gateway import ChannelGateway
from postplan.publishing.intake import service
from postplan.publishing.schemas import PublishBody
from postplan.publishing.tables import attempts, intents
from postplan.publishing.worker.context import WorkerConfig
from postplan.publishing.worker.loop import Worker


class Clock:
    """A settable UTC clock for the worker."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


async def add_connection(engine: AsyncEngine, settings: Settings, channel: str,
                         user_id: str = "local", *, expires_in: float | None = 3600,
                         account_id: str | None = None, token: str | None = None) -> None:
    assert settings.token_encryption_key is not None
    cipher = TokenCipher(settings.token_encryption_key.get_secret_value())
    maker = create_sessionmaker(engine)
    async with maker() as session:
        await connections.save_tokens(
            session, cipher, user_id, channel,
            access_token=token or f"act.{user_id}.{channel}.token",
            refresh_token=f"rft.{user_id}.{channel}",
            expires_at=(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=expires_in)
                        if expires_in is not None else None),
            account_id=account_id or f"{user_id}-{channel}")
        await session.commit()


async def queue(engine: AsyncEngine, settings: Settings, gateway: ChannelGateway,
                calendar_id: uuid.UUID, user_id: str = "local", when: str = "now",
                **body: Any) -> service.Outcome:
    maker = create_sessionmaker(engine)
    async with maker() as session:
        outcome = await service.publish_calendar(
            session, settings=settings, flags=FlagService(settings), gateway=gateway,
            user_id=user_id, calendar_id=calendar_id,
            body=PublishBody(dry_run=False, when=when, **body), request_id="req-test",  # type: ignore[arg-type]
            now=dt.datetime.now(dt.UTC))
        await session.commit()
    return outcome


def make_worker(engine: AsyncEngine, settings: Settings, gateway: ChannelGateway,
                clock: Clock | None = None, **config: Any) -> Worker:
    defaults: dict[str, Any] = {
        "retry_base": 1.0, "poll_delays": (1.0,), "reconcile_delays": (1.0, 2.0, 3.0),
        "rate_limits": {}, "idle_sleep": 0.02, "inline_poll_budget": 0.0,
    }
    defaults.update(config)
    return Worker(engine, settings, FlagService(settings), gateway,
                  config=WorkerConfig(**defaults), clock=clock or utcnow)


async def statuses(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = (await conn.execute(
            select(intents.c.status, func.count()).where(intents.c.dry_run.is_(False))
            .group_by(intents.c.status))).all()
    return {r[0]: int(r[1]) for r in rows}


async def intent_rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(
            select(intents).where(intents.c.dry_run.is_(False)))).all())


async def attempt_rows(engine: AsyncEngine, intent_id: uuid.UUID) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(
            select(attempts).where(attempts.c.intent_id == intent_id)
            .order_by(attempts.c.started_at))).all())


async def run_until_idle(worker: Worker, clock: Clock | None = None, step: float = 1.5,
                         rounds: int = 200) -> None:
    """Process everything due, advancing the clock between rounds until nothing is left."""
    idle = 0
    for _ in range(rounds):
        n = await worker.run_once()
        if n == 0:
            idle += 1
            if idle > 12:
                return
            if clock is not None:
                clock.advance(step)
        else:
            idle = 0


async def seed_users(engine: AsyncEngine, settings: Settings, fake: Any, users: list[str],
                     gateway: ChannelGateway) -> int:
    """Per user: a calendar with one TikTok video and one Instagram reel, connected to fresh fake
    accounts, queued live `now` (bulk inserts; the publish goes through the service)."""
    from sqlalchemy import insert

    from postplan.models import Calendar, CalendarEntry

    assert settings.token_encryption_key is not None
    cipher = TokenCipher(settings.token_encryption_key.get_secret_value())
    now = dt.datetime.now(dt.UTC)
    cals: dict[str, uuid.UUID] = {u: uuid.uuid4() for u in users}
    entries = []
    for user, cal in cals.items():
        for channel, fmt in (("tiktok", "video"), ("instagram", "reel")):
            entries.append({
                "id": uuid.uuid4(), "calendar_id": cal, "user_id": user, "seq": 0,
                "channel": channel, "format": fmt, "scheduled_at": now + dt.timedelta(days=1),
                "timezone": "UTC", "pillar": "", "hook": "", "caption": f"{user} {channel}",
                "hashtags": [], "call_to_action": "", "asset_notes": "",
                "media": [{"url": f"https://cdn.example.com/{user}.mp4", "type": "video"}],
                "version": 1, "edited": False, "created_at": now, "updated_at": now,
                "channel_options": {"tiktok": {"privacyLevel": "SELF_ONLY",
                                               "musicUsageConfirmed": True}}
                if channel == "tiktok" else {}})
    async with engine.begin() as conn:
        await conn.execute(insert(Calendar), [
            {"id": cal, "user_id": u, "name": "Burst", "brief": {}, "timezone": "UTC",
             "created_at": now, "updated_at": now} for u, cal in cals.items()])
        await conn.execute(insert(CalendarEntry), entries)
    maker = create_sessionmaker(engine)
    async with maker() as session:
        for user in users:
            for channel in ("tiktok", "instagram"):
                acct = fake.control.add_account(channel)
                await connections.save_tokens(
                    session, cipher, user, channel, access_token=acct.token,
                    refresh_token=None, account_id=acct.account_id,
                    expires_at=now + dt.timedelta(hours=2))
        await session.commit()
    flags = FlagService(settings)
    queued = 0
    for user, cal in cals.items():
        async with maker() as session:
            outcome = await service.publish_calendar(
                session, settings=settings, flags=flags, gateway=gateway, user_id=user,
                calendar_id=cal, body=PublishBody(dry_run=False, when="now"),
                request_id=None, now=dt.datetime.now(dt.UTC))
            await session.commit()
            queued += outcome.body.summary.queued
    return queued


async def settle(engine: AsyncEngine, worker: Worker, *, tries: int = 100) -> None:
    """Run `worker` until every intent is published or failed (a live platform round trip
    between rounds), or give up after `tries` rounds."""
    for _ in range(tries):
        await run_until_idle(worker, None, rounds=5)
        if set(await statuses(engine)) <= {"published", "failed"}:
            return
        await asyncio.sleep(0.05)
