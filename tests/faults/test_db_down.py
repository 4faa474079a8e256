"""Database down (docs/contract.md §4 and ops appendix "Supabase down"): Postgres stopped for real.

The test owns a Postgres cluster (tests/fixtures/pg_cluster.py) and stops it with
`pg_ctlcluster … stop -m immediate` in the middle of a burst of publishes. What must hold:
every request is answered (written, or 202 queued into the fsync'd spool); generation still
streams as a dry run; /readyz says degraded with the spool depth; once Postgres is back the
spool drains and every request is in the database exactly once. A second test SIGKILLs a real
`postplan serve` process while it spools: acknowledged ⊆ stored after restart and drain.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from postplan.config import Settings
from tests.fixtures.apps import build_app, free_port, live_server, make_settings
from tests.fixtures.factories import seed_calendar
from tests.fixtures.pg_cluster import PgCluster, owned_pg, pg_cluster
from tests.fixtures.processes import stop

__all__ = ["owned_pg", "pg_cluster"]

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
BRIEF = {"brand": "Acme Coffee", "startDate": "2026-12-01", "days": 7,
         "channels": ["tiktok", "instagram"]}


def settings_for(url: str, spool: Path, **extra: Any) -> Settings:
    return make_settings(url, SPOOL_DIR=str(spool), WORKER_POLL_SECONDS=0.2,
                         CALENDAR_SERVICE_ENABLED=True, **extra)


async def publish(client: httpx.AsyncClient, calendar_id: uuid.UUID, entry_id: uuid.UUID,
                  key: str) -> httpx.Response:
    return await client.post(f"/v1/calendars/{calendar_id}/publish",
                             json={"entryIds": [str(entry_id)], "dryRun": True},
                             headers={"Idempotency-Key": key})


async def read_events(client: httpx.AsyncClient) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    async with client.stream("POST", "/v1/ai/calendar", json=BRIEF) as resp:
        assert resp.status_code == 200, await resp.aread()
        name = ""
        async for line in resp.aiter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line.split(":", 1)[1])))
    return events


async def wait_drained(client: httpx.AsyncClient, deadline_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    while True:
        resp = await client.get("/readyz")
        body: dict[str, Any] = resp.json()
        spool = body["checks"].get("spool", {})
        if resp.status_code == 200 and spool.get("depth") == 0:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"spool did not drain: {body}")
        await asyncio.sleep(0.2)


def counts(cluster: PgCluster, url: str, entry_ids: list[uuid.UUID]) -> dict[str, int]:
    ids = ",".join(f"'{e}'" for e in entry_ids)
    rows = cluster.fetch(url, f"""
        SELECT count(*) AS total, count(DISTINCT entry_id) AS entries,
               count(dedupe_key) AS keyed, count(DISTINCT dedupe_key) AS distinct_keyed
        FROM publish_intents WHERE entry_id IN ({ids})""")
    keys = cluster.fetch(url, "SELECT count(*) AS n, count(*) FILTER (WHERE state='done') AS done "
                              "FROM idempotency_keys WHERE scope='publish'")
    return {**dict(rows[0]), "keys": keys[0]["n"], "keys_done": keys[0]["done"]}


@pytest.fixture
def fresh_db(owned_pg: PgCluster) -> str:
    return owned_pg.create_database()


async def test_postgres_stopped_mid_burst_every_publish_lands_once(
    owned_pg: PgCluster, fresh_db: str, tmp_path: Path
) -> None:
    n = 60
    seeded = await seed_calendar(fresh_db, entries=n)
    app = build_app(settings_for(fresh_db, tmp_path / "spool"))
    keys = [f"burst-{i}-{uuid.uuid4().hex[:6]}" for i in range(n)]
    answers: dict[int, httpx.Response] = {}
    with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(n):
                queue.put_nowait(i)
            stopped = asyncio.Event()

            async def sender() -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    answers[i] = await publish(client, seeded.calendar_id,
                                               seeded.entry_ids[i], keys[i])
                    if len(answers) == n // 3 and not stopped.is_set():
                        stopped.set()
                        # Cut Postgres while the other senders keep going.
                        await asyncio.to_thread(owned_pg.stop)

            await asyncio.gather(*(sender() for _ in range(6)))
            assert not owned_pg.running
            statuses = {i: r.status_code for i, r in answers.items()}
            assert set(statuses.values()) <= {200, 207, 202}, {
                i: (r.status_code, r.text[:200]) for i, r in answers.items()
                if r.status_code not in (200, 207, 202)}
            queued = [i for i, s in statuses.items() if s == 202]
            assert queued, "no request reached the spool"
            for i in queued:
                body = answers[i].json()
                assert body["dryRun"] is True
                assert body["status"] == "queued"
                assert body["queued"]["entryIds"] == [str(seeded.entry_ids[i])]

            # Still down: a client retry with the same key is the same queued answer.
            again = await publish(client, seeded.calendar_id, seeded.entry_ids[queued[0]],
                                  keys[queued[0]])
            assert again.status_code == 202
            assert again.headers.get("Idempotent-Replayed") == "true"

            # Readiness is degraded and shows what waits.
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["status"] == "degraded"
            assert ready.json()["checks"]["spool"]["depth"] == len(queued)

            # Generation still streams, as a dry run that writes nothing.
            events = await read_events(client)
            names = [e[0] for e in events]
            assert names[0] == "run"
            assert events[0][1]["dryRun"] is True
            assert names[-1] == "done"
            assert events[-1][1]["status"] == "completed"
            assert names.count("entry") == events[0][1]["expectedEntries"] > 0

            await asyncio.to_thread(owned_pg.start)
            await wait_drained(client)

            # After the drain, the same key replays the stored answer (no new work).
            replay = await publish(client, seeded.calendar_id, seeded.entry_ids[queued[0]],
                                   keys[queued[0]])
            assert replay.status_code in (200, 207)
            assert replay.headers.get("Idempotent-Replayed") == "true"

    got = counts(owned_pg, fresh_db, seeded.entry_ids)
    assert got["total"] == n, got          # nothing lost, nothing twice
    assert got["entries"] == n, got
    assert got["keyed"] == len(queued), got  # every spooled request, via the drain
    assert got["distinct_keyed"] == len(queued), got
    assert got["keys"] == n, got
    assert got["keys_done"] == n, got
    runs = owned_pg.fetch(fresh_db, "SELECT count(*) AS n FROM calendar_runs "
                                    "WHERE dry_run = true")
    assert runs[0]["n"] == 0  # the dry-run stream wrote nothing
    assert not any((tmp_path / "spool").glob("*.rejected.jsonl"))
    print(f"\ndb-down burst: {n} publishes, {len(queued)} spooled while Postgres was down, "
          f"rows={got['total']} distinct entries={got['entries']} keys done={got['keys_done']}")


def _serve(url: str, spool: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "SPOOL_DIR": str(spool), "WORKER_ENABLED": "false",
           "WORKER_POLL_SECONDS": "0.2", "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT)}
    for name in ("CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED", "FLAGS_FILE"):
        env.pop(name, None)
    return subprocess.Popen(
        [sys.executable, "-m", "postplan.cli", "serve", "--port", str(port), "--no-worker"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


async def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            assert proc.poll() is None, "postplan serve exited"
            try:
                if (await client.get(url + "/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "postplan serve did not start"
            await asyncio.sleep(0.1)


async def test_sigkill_while_spooling_acked_subset_of_stored(
    owned_pg: PgCluster, fresh_db: str, tmp_path: Path
) -> None:
    n_entries = 150
    seeded = await seed_calendar(fresh_db, entries=n_entries)
    spool = tmp_path / "spool"
    log = tmp_path / "serve.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    owned_pg.stop()
    acked: dict[str, uuid.UUID] = {}
    next_entry = 0
    for _round in range(3):
        proc = _serve(fresh_db, spool, port, log)
        try:
            await _wait_up(base, proc)
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                inflight: set[asyncio.Task[None]] = set()

                async def one(entry: uuid.UUID, key: str) -> None:
                    try:
                        resp = await publish(client, seeded.calendar_id, entry, key)
                    except httpx.HTTPError:
                        return  # killed before answering: not acknowledged
                    if resp.status_code == 202:
                        acked[key] = entry

                start_acks = len(acked)
                while len(acked) - start_acks < 15 and next_entry < n_entries:
                    entry = seeded.entry_ids[next_entry]
                    task = asyncio.create_task(one(entry, f"kill-{next_entry}"))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                    next_entry += 1
                    await asyncio.sleep(0.01)
                # Kill -9 with requests still in flight.
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
                if inflight:
                    await asyncio.gather(*inflight)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert len(acked) >= 30

    # Restart with the database back: the spool drains what the dead processes acknowledged.
    owned_pg.start()
    proc = _serve(fresh_db, spool, port, log)
    try:
        await _wait_up(base, proc)
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            await wait_drained(client)
    finally:
        stop(proc)

    rows = owned_pg.fetch(fresh_db, "SELECT entry_id, count(*) AS n FROM publish_intents "
                                    "GROUP BY entry_id")
    stored = {r["entry_id"]: r["n"] for r in rows}
    assert set(acked.values()) <= set(stored), "an acknowledged publish was lost"
    assert all(n == 1 for n in stored.values()), "a publish was stored twice"
    # Anything stored beyond the acks was a request in flight at the kill (spooled, not acked).
    assert len(stored) - len(acked) <= next_entry - len(acked)
    print(f"\ndb-down kill -9: 3 SIGKILLs, {next_entry} sent, {len(acked)} acked, "
          f"{len(stored)} stored, max copies {max(stored.values())}")
