"""The spool drain on both databases: records replayed once, poison records set aside."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from postplan.config import Settings
from postplan.core.db import create_engine
from postplan.core.spool import Spool
from postplan.core.spoolfile import scan
from postplan.publishing.intake.spooled import spool_key
from postplan.publishing.tables import idempotency_keys, intents
from tests.fixtures.apps import build_app, free_port, in_process_client, live_server, make_settings
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


def _stored_keys(spool_dir: Path) -> list[str]:
    """Keys of the whole records in the spool file, read without opening a Spool."""
    path = spool_dir / "publish.spool"
    return [f.key for f in scan(path.read_bytes()).frames] if path.exists() else []


async def test_spooled_request_is_bounded_per_request_and_per_user(tmp_path: Path) -> None:
    """Database down (nothing listens on its port): what one request and one user may queue."""
    spool_dir = tmp_path / "spool"
    settings = make_settings(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/gone",
                             SPOOL_DIR=str(spool_dir), SPOOL_MAX_RECORD_BYTES=4096,
                             SPOOL_MAX_USER_BYTES=8192, SPOOL_MAX_BYTES=65536)
    calendar = uuid.uuid4()
    url = f"/v1/calendars/{calendar}/publish"

    def ids(n: int) -> list[str]:
        return [str(uuid.uuid4()) for _ in range(n)]

    with live_server(build_app(settings)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            # More entry ids than the publish endpoint takes at all: refused before the spool.
            too_many = await client.post(url, json={"entryIds": ids(5001)},
                                         headers={"Idempotency-Key": "too-many"})
            assert too_many.status_code == 422, too_many.text
            # A valid request whose record is larger than a spooled record may be.
            big = await client.post(url, json={"entryIds": ids(200)},
                                    headers={"Idempotency-Key": "big"})
            assert big.status_code == 503, big.text[:300]
            assert big.headers["content-type"].startswith("application/problem+json")
            assert big.json()["code"] == "spool_record_too_large"
            assert int(big.headers["Retry-After"]) > 0
            assert _stored_keys(spool_dir) == []

            # One user fills their share, then is told to come back later.
            answers = []
            for i in range(40):
                resp = await client.post(url, json={"entryIds": ids(1)},
                                         headers={"Idempotency-Key": f"a-{i}"})
                answers.append(resp)
                if resp.status_code != 202:
                    break
            last = answers[-1]
            assert last.status_code == 429, last.text
            assert last.json()["code"] == "spool_quota_exceeded"
            assert int(last.headers["Retry-After"]) > 0
            queued_a = len(answers) - 1
            assert queued_a >= 2
            # Another user still gets in.
            other = await client.post(url, json={"entryIds": ids(1)},
                                      headers={"Idempotency-Key": "b-0", "X-User-Id": "bob"})
            assert other.status_code == 202, other.text

            stored = _stored_keys(spool_dir)
            assert len(stored) == queued_a + 1
            ready = (await client.get("/readyz")).json()
            assert ready["checks"]["spool"]["depth"] == len(stored)
            metrics = (await client.get("/metrics")).text
            assert f"postplan_publish_spool_depth {float(len(stored))}" in metrics


async def test_drain_takes_over_only_the_claim_its_own_request_left_behind(
    settings_factory: Callable[..., Settings], db_url: str
) -> None:
    # A request that claimed its key and then lost the database answered 202 from the spool;
    # its claim could not be released. The drain takes over a claim last touched before the
    # record was spooled (that request's), and waits on a newer one (a live retry's).
    import datetime as dt

    from postplan.publishing.intake import transaction

    seeded = await seed_calendar(db_url, entries=2)
    settings = settings_factory(WORKER_POLL_SECONDS=0.05)
    now = dt.datetime.now(dt.UTC)
    records = {name: record(seeded.calendar_id, entry, name)
               for name, entry in (("orphan", seeded.entry_ids[0]),
                                   ("live", seeded.entry_ids[1]))}
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            for name, touched in (("orphan", now - dt.timedelta(seconds=30)),
                                  ("live", now + dt.timedelta(seconds=30))):
                await conn.execute(idempotency_keys.insert().values(
                    id=uuid.uuid4(), user_id="local", scope="publish", key=name,
                    request_hash=transaction.fingerprint(seeded.calendar_id,
                                                         records[name]["body"]),
                    state="in_progress", created_at=touched, updated_at=touched))
        spool = Spool(settings.spool_dir)
        for name, data in records.items():
            spool.append(spool_key("local", name), "publish", data)

        async with in_process_client(build_app(settings)):
            deadline = time.monotonic() + 20
            while True:
                async with engine.connect() as conn:
                    states = dict((await conn.execute(
                        select(idempotency_keys.c.key, idempotency_keys.c.state))).all())
                if states["orphan"] == "done" or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
        async with engine.connect() as conn:
            published = (await conn.execute(select(intents.c.entry_id))).scalars().all()
    finally:
        await engine.dispose()
    assert states == {"orphan": "done", "live": "in_progress"}
    assert published == [seeded.entry_ids[0]]
    assert _stored_keys(settings.spool_dir) == [spool_key("local", "live")]
