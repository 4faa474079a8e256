"""The local spool: durable appends, torn tails, atomic compaction, exactly-once drain."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from postplan.core.metrics import SPOOL_DEPTH
from postplan.core.spool import (
    DbAvailability,
    Drainer,
    Record,
    Spool,
    SpoolFull,
    is_db_unavailable,
)


def test_append_then_pending_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(5):
        spool.append(f"k{i}", "publish", {"i": i})
    assert [r["data"]["i"] for r in spool.pending()] == [0, 1, 2, 3, 4]
    assert spool.depth == 5
    assert SPOOL_DEPTH._value.get() == 5
    # A second Spool over the same directory (another process, a restart) sees the same.
    assert [r["dedupeKey"] for r in Spool(tmp_path).pending()] == [f"k{i}" for i in range(5)]


def test_same_key_is_stored_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    first = spool.append("dup", "publish", {"n": 1})
    again = spool.append("dup", "publish", {"n": 2})
    assert not first.duplicate
    assert again.duplicate
    assert again.record["data"] == {"n": 1}
    assert len(spool.pending()) == 1
    assert spool.path.read_bytes().count(b"\n") == 1


def test_torn_last_line_is_ignored_and_cut_before_next_append(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append("a", "publish", {})
    with spool.path.open("ab") as fh:
        fh.write(b'{"dedupeKey":"torn","data":{"x')
    assert [r["dedupeKey"] for r in Spool(tmp_path).pending()] == ["a"]
    spool.append("b", "publish", {})
    assert [r["dedupeKey"] for r in Spool(tmp_path).pending()] == ["a", "b"]
    assert b"torn" not in spool.path.read_bytes()


def test_corrupt_middle_line_does_not_hide_the_rest(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append("a", "publish", {})
    with spool.path.open("ab") as fh:
        fh.write(b"not json\n")
    spool.append("b", "publish", {})
    assert [r["dedupeKey"] for r in Spool(tmp_path).pending()] == ["a", "b"]


def test_remove_is_atomic_and_keeps_other_records(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for k in "abcd":
        spool.append(k, "publish", {})
    other = Spool(tmp_path)  # a second process appends after our read
    other.append("e", "publish", {})
    spool.remove({"a", "c"})
    assert [r["dedupeKey"] for r in Spool(tmp_path).pending()] == ["b", "d", "e"]
    assert not spool.path.with_suffix(".jsonl.tmp").exists()
    other.append("f", "publish", {})  # stale stat in `other` is noticed
    assert [r["dedupeKey"] for r in Spool(tmp_path).pending()] == ["b", "d", "e", "f"]


def test_full_spool_refuses_with_retry_after(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_records=2)
    spool.append("a", "publish", {})
    spool.append("b", "publish", {})
    with pytest.raises(SpoolFull) as err:
        spool.append("c", "publish", {})
    assert err.value.status_code == 503
    assert err.value.headers["Retry-After"]


def test_db_unavailable_classification() -> None:
    assert is_db_unavailable(ConnectionRefusedError(errno.ECONNREFUSED, "refused"))
    assert is_db_unavailable(TimeoutError())
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = OSError(errno.ECONNREFUSED, "Connect call failed")
    assert is_db_unavailable(wrapped)
    assert not is_db_unavailable(ValueError("bug"))
    assert not is_db_unavailable(KeyError("x"))


async def test_drain_stops_while_db_down_then_writes_each_record_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(10):
        spool.append(f"k{i}", "publish", {"i": i})
    written: list[str] = []
    state = {"up": False, "crash_after": 4}

    async def sink(record: Record) -> None:
        if not state["up"]:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "refused")
        if record["dedupeKey"] not in written:  # the table's unique key
            written.append(record["dedupeKey"])

    availability = DbAvailability()
    drainer = Drainer(spool, sink, availability=availability, batch=3)
    stats = await drainer.drain_once()
    assert stats.db_unavailable
    assert stats.drained == 0
    assert availability.down
    assert spool.depth == 10

    state["up"] = True
    stats = await drainer.drain_once()
    assert stats.drained == 10
    assert not availability.down
    assert written == [f"k{i}" for i in range(10)]
    assert spool.depth == 0
    assert spool.pending() == []
    # A replay (crash between commit and compaction) cannot duplicate: the key is unique.
    await sink({"dedupeKey": "k3"})
    assert len(written) == 10


async def test_poison_record_is_dead_lettered_not_retried_forever(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append("bad", "publish", {})
    spool.append("good", "publish", {})
    written: list[str] = []

    async def sink(record: Record) -> None:
        if record["dedupeKey"] == "bad":
            raise ValueError("cannot be written")
        written.append(record["dedupeKey"])

    drainer = Drainer(spool, sink)
    for _ in range(5):
        await drainer.drain_once()
    assert written == ["good"]
    assert spool.pending() == []
    assert b'"bad"' in spool.dead_letter_path.read_bytes()


async def test_run_loop_drains_when_db_returns(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append("x", "publish", {})
    up = asyncio.Event()
    written: list[str] = []

    async def sink(record: Record) -> None:
        if not up.is_set():
            raise ConnectionRefusedError(errno.ECONNREFUSED, "refused")
        written.append(record["dedupeKey"])

    stop = asyncio.Event()
    task = asyncio.create_task(Drainer(spool, sink).run(stop, interval=0.02, max_backoff=0.05))
    await asyncio.sleep(0.1)
    assert written == []
    up.set()
    for _ in range(200):
        if written:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task
    assert written == ["x"]
    assert spool.depth == 0


def test_sigkill_while_appending_loses_no_acknowledged_record(tmp_path: Path) -> None:
    """Every key the writer reported as appended (after fsync) is there after kill -9."""
    script = textwrap.dedent(f"""
        import sys
        from postplan.core.spool import Spool
        spool = Spool({str(tmp_path)!r})
        i = 0
        while True:
            spool.append(f"key-{{i}}", "publish", {{"pad": "x" * 300}})
            sys.stdout.write(f"acked key-{{i}}\\n"); sys.stdout.flush()
            i += 1
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout is not None
    acked: list[str] = []
    for line in proc.stdout:
        if line.startswith("acked "):
            acked.append(line.split()[1])
        if len(acked) >= 150:
            break
    os.kill(proc.pid, signal.SIGKILL)
    rest, _ = proc.communicate(timeout=10)
    acked += [ln.split()[1] for ln in rest.splitlines() if ln.startswith("acked ")]
    stored = {r["dedupeKey"] for r in Spool(tmp_path).pending()}
    assert set(acked) <= stored
    assert len(stored) - len(acked) <= 1  # at most the one in flight when killed
