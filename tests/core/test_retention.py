"""Retention: each kind of expired row is pruned on its schedule and nothing else is touched;
a rule for a table that does not exist yet (notifications) is skipped."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select

from postplan.core.db import create_engine, create_sessionmaker
from postplan.core.retention import BATCH, Rule, prune, rules_from
from postplan.models import Calendar, IdempotencyKey, OAuthState
from tests.fixtures.apps import make_settings


async def test_each_kind_is_pruned_on_its_schedule_and_nothing_else(db_url: str) -> None:
    settings = make_settings(db_url, IDEMPOTENCY_TTL_HOURS=24, OAUTH_STATE_TTL_HOURS=1)
    now = dt.datetime.now(dt.UTC)
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            session.add(Calendar(user_id="u", name="kept", brief={}, timezone="UTC"))
            for n, age in enumerate([BATCH + 3, 2, 0.5]):  # two batches of old ones; two kept
                for i in range(BATCH + 3 if n == 0 else 1):
                    session.add(IdempotencyKey(
                        user_id="u", key=f"k{n}-{i}", scope="publish", request_hash="h",
                        state="done", response_status=200, response_body={"big": "x" * 100},
                        created_at=now - dt.timedelta(hours=25 if n == 0 else age)))
            for name, expired_ago in (("old", 2.0), ("recent", 0.5), ("live", -0.1)):
                session.add(OAuthState(
                    id=uuid.uuid4(), user_id="u", channel="tiktok", state_hash=name * 8,
                    redirect_uri="http://localhost/cb", created_at=now,
                    expires_at=now - dt.timedelta(hours=expired_ago)))
            await session.commit()

        deleted = await prune(engine, rules_from(settings))
        assert deleted == {"idempotency_keys": BATCH + 3, "oauth_states": 1}
        assert "notifications" not in deleted  # registered, skipped: no such table yet

        async with engine.connect() as conn:
            keys = (await conn.execute(select(IdempotencyKey.key))).scalars().all()
            states = (await conn.execute(select(OAuthState.state_hash))).scalars().all()
            calendars = (await conn.execute(select(func.count()).select_from(Calendar))
                         ).scalar_one()
        assert sorted(keys) == ["k1-0", "k2-0"]
        assert sorted(states) == ["live" * 8, "recent" * 8]
        assert calendars == 1
        # Nothing left to do: a second pass deletes nothing.
        assert await prune(engine, rules_from(settings)) == {"idempotency_keys": 0,
                                                              "oauth_states": 0}
        # A rule for a table that exists prunes it: the registration is by name only.
        assert await prune(engine, [Rule("cal", "calendars", "created_at",
                                         dt.timedelta(days=1))]) == {"cal": 0}
    finally:
        await engine.dispose()
