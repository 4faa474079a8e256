"""The database is down and the spool's volume is nearly full (issue 12, item 1).

A real `postplan serve` process, its database behind a TCP gate the test keeps shut, spools a
burst of publishes onto a volume that cannot take them all: either a 32 KiB tmpfs (when this
machine lets the test mount one) or a file-size limit (`RLIMIT_FSIZE`: writes past it store
part of the bytes, then fail with EFBIG). What must hold: every 202 is a whole record on disk,
nothing refused is stored, the refusals are 503 `spool_full` problems with `Retry-After`, the
reported depth (readyz, metrics) is the number of records on disk, and once the gate opens each
acknowledged request lands in `publish_intents` exactly once.
"""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from postplan.core.spoolfile import scan
from postplan.publishing.intake.spooled import spool_key
from tests.fixtures.apps import free_port
from tests.fixtures.databases import truncate_pg
from tests.fixtures.factories import seed_calendar
from tests.fixtures.processes import stop

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
FILE_SIZE_LIMIT = 12_000


class PgGate:
    """A TCP relay on loopback in front of Postgres; shut, nothing listens (refused)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def shut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._conns):
            writer.transport.abort()
        self._conns.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._conns |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._conns -= {writer, up_writer}


def _serve(db_url: str, spool: Path, port: int, file_size_limit: int | None
           ) -> tuple[subprocess.Popen[bytes], collections.deque[bytes]]:
    """`postplan serve`, optionally under RLIMIT_FSIZE; its output is kept in memory (a log
    file would itself hit the limit)."""
    boot = textwrap.dedent(f"""
        import resource, runpy, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        limit = {file_size_limit!r}
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        sys.argv = ["postplan", "serve", "--port", "{port}", "--no-worker"]
        runpy.run_module("postplan.cli", run_name="__main__", alter_sys=True)
    """)
    env = {**os.environ, "DATABASE_URL": db_url, "SPOOL_DIR": str(spool),
           "WORKER_ENABLED": "false", "WORKER_POLL_SECONDS": "0.2", "LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    for name in ("CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED", "FLAGS_FILE", "LOG_FILE"):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable, "-c", boot], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: collections.deque[bytes] = collections.deque(maxlen=200)

    def drain() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)

    threading.Thread(target=drain, daemon=True).start()
    return proc, lines


async def _wait_up(client: httpx.AsyncClient, proc: subprocess.Popen[bytes],
                   lines: collections.deque[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, b"".join(lines).decode(errors="replace")[-3000:]
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "postplan serve did not start"
        await asyncio.sleep(0.1)


async def _wait_drained(client: httpx.AsyncClient) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        resp = await client.get("/readyz")
        body: dict[str, Any] = resp.json()
        if resp.status_code == 200 and body["checks"]["spool"]["depth"] == 0:
            return body
        assert time.monotonic() < deadline, f"spool did not drain: {body}"
        await asyncio.sleep(0.2)


@pytest.fixture
def volume(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, int | None]]:
    """The spool directory and the file-size limit to run `serve` under."""
    spool = tmp_path / "spool"
    spool.mkdir()
    if request.param == "rlimit":
        yield spool, FILE_SIZE_LIMIT
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32k,mode=0700", "tmpfs",
                              str(spool)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield spool, None
    finally:
        subprocess.run(["umount", "-l", str(spool)], check=False)


@pytest.mark.parametrize("volume", ["rlimit", "tmpfs"], indirect=True)
async def test_full_volume_acks_only_whole_records_and_drains_each_once(
    volume: tuple[Path, int | None], pg_database: str
) -> None:
    spool, file_size_limit = volume
    await asyncio.to_thread(truncate_pg, pg_database)
    n = 60
    seeded = await seed_calendar(pg_database, entries=n)
    parts = urlsplit(pg_database)
    gate = PgGate(parts.port or 5432)  # shut: the database is down for `serve`
    gated_url = pg_database.replace(f"@{parts.hostname}:{parts.port}",
                                    f"@127.0.0.1:{gate.port}", 1)
    port = free_port()
    proc, lines = _serve(gated_url, spool, port, file_size_limit)
    # Varied record sizes, so appends end at many offsets of the last page / below the limit.
    keys = [f"full-{i}-{uuid.uuid4().hex[:6]}-" + "k" * (i * 37 % 200) for i in range(n)]
    answers: dict[int, httpx.Response] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
            await _wait_up(client, proc, lines)

            async def publish(i: int) -> httpx.Response:
                return await client.post(
                    f"/v1/calendars/{seeded.calendar_id}/publish",
                    json={"entryIds": [str(seeded.entry_ids[i])], "dryRun": True},
                    headers={"Idempotency-Key": keys[i]})

            pending = list(range(n))

            async def sender() -> None:
                while pending:
                    i = pending.pop(0)
                    answers[i] = await publish(i)

            await asyncio.gather(*(sender() for _ in range(4)))

            acked = sorted(i for i, r in answers.items() if r.status_code == 202)
            refused = sorted(i for i, r in answers.items() if r.status_code == 503)
            assert len(acked) + len(refused) == n, {
                i: (r.status_code, r.text[:200]) for i, r in answers.items()
                if r.status_code not in (202, 503)}
            # Every acknowledged request is a whole record on disk; nothing refused is stored;
            # no torn bytes are left for the next append to land behind.
            on_disk = scan((spool / "publish.spool").read_bytes())
            assert sorted(f.key for f in on_disk.frames) == sorted(
                spool_key("local", keys[i]) for i in acked)
            assert on_disk.tail_bytes == 0 and on_disk.corrupt_bytes == 0
            assert acked and refused, "the volume never filled up"
            for i in refused:
                problem = answers[i]
                assert problem.headers["content-type"].startswith("application/problem+json")
                assert problem.json()["code"] == "spool_full", problem.text
                assert int(problem.headers["Retry-After"]) > 0

            # The reported depth is the number of records on disk.
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["spool"]["depth"] == len(acked)
            metrics = (await client.get("/metrics")).text
            assert f"postplan_publish_spool_depth {float(len(acked))}" in metrics
            # A retry of an acknowledged request while still down is the same 202.
            again = await publish(acked[0])
            assert again.status_code == 202
            assert again.headers.get("Idempotent-Replayed") == "true"

            await gate.open()  # the database is back
            await _wait_drained(client)
    finally:
        await asyncio.to_thread(stop, proc)  # the gate keeps relaying while it shuts down
        await gate.shut()

    conn = await asyncpg.connect(pg_database.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch("SELECT entry_id, count(*) AS n FROM publish_intents "
                                "GROUP BY entry_id")
    finally:
        await conn.close()
    stored = {r["entry_id"]: r["n"] for r in rows}
    assert set(stored) == {seeded.entry_ids[i] for i in acked}  # each ack, nothing refused
    assert set(stored.values()) == {1}  # exactly once
    assert not any(spool.glob("*.rejected.jsonl"))
    print(f"\nfull spool volume ({'tmpfs 32 KiB' if file_size_limit is None else 'RLIMIT_FSIZE'}"
          f"): {n} publishes while the database was down, {len(acked)} acked (202), "
          f"{len(refused)} refused (503 spool_full); after the drain {len(stored)} rows, "
          f"max copies {max(stored.values())}")
