"""The spool drain on both databases: records replayed once, poison records set aside."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from postplan.config import Settings
from postplan.core.db import create_engine
from postplan.core.spool import Spool
from postplan.publishing.spooled import spool_key
from postplan.publishing.tables import idempotency_keys, intents
from tests.fixtures.apps import build_app, in_process_client
from tests.fixtures.factories import seed_calendar


def record(calendar_id: Any, entry_id: Any, key: str | None) -> dict[str, Any]:
    return {"userId": "local", "calendarId": str(calendar_id), "idempotencyKey": key,
            "requestId": "req-spooled",
            "body": {"entry_ids": [str(entry_id)], "channels": None, "dry_run": True,
                     "when": "scheduled", "privacy_level": None}}


async def drained(client: Any, limit: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        body: dict[str, Any] = (await client.get("/readyz")).json()
        if body["checks"]["spool"]["depth"] == 0 or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.05)


async def test_spooled_records_drain_once_and_poison_is_set_aside(
    settings_factory: Callable[..., Settings], db_url: str
) -> None:
    seeded = await seed_calendar(db_url, entries=3)
    settings = settings_factory(WORKER_POLL_SECONDS=0.05)
    spool = Spool(settings.spool_dir)
    keyed = spool_key("local", "client-key-1")
    spool.append(keyed, "publish", record(seeded.calendar_id, seeded.entry_ids[0],
                                          "client-key-1"))
    anon = spool_key("local", None)
    spool.append(anon, "publish", record(seeded.calendar_id, seeded.entry_ids[1], None))
    spool.append(spool_key("local", "gone"), "publish",
                 record("00000000-0000-0000-0000-000000000000", seeded.entry_ids[2], "gone"))

    async with in_process_client(build_app(settings)) as client:
        body = await drained(client)
        assert body["checks"]["spool"]["depth"] == 0, body
        # The compaction was lost (crash): the same record comes back and must not apply twice.
        spool.append(keyed, "publish", record(seeded.calendar_id, seeded.entry_ids[0],
                                              "client-key-1"))
        assert (await drained(client))["checks"]["spool"]["depth"] == 0
        # The client's own retry after the drain replays the stored answer.
        replay = await client.post(f"/v1/calendars/{seeded.calendar_id}/publish",
                                   json={"entryIds": [str(seeded.entry_ids[0])]},
                                   headers={"Idempotency-Key": "client-key-1"})
        assert replay.headers.get("Idempotent-Replayed") == "true"

    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(intents.c.entry_id, intents.c.dedupe_key,
                                              intents.c.request_id))).all()
            keys = (await conn.execute(select(func.count()).select_from(idempotency_keys)
                                       .where(idempotency_keys.c.state == "done"))).scalar()
    finally:
        await engine.dispose()
    assert sorted(str(r.entry_id) for r in rows) == sorted(
        str(e) for e in seeded.entry_ids[:2])
    assert all(r.dedupe_key for r in rows)
    assert {r.request_id for r in rows} == {"req-spooled"}
    assert keys == 2
    rejected = spool.dead_letter_path.read_text()
    assert "calendar_not_found" in rejected or "404" in rejected
