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

from postplan.core.db import is_db_unavailable
from postplan.core.metrics import SPOOL_DEPTH
from postplan.core.spool import (
    DbAvailability,
    Drainer,
    Record,
    Spool,
    SpoolFull,
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
    # A refusal already decided for the client is not an outage, whatever caused it.
    full = SpoolFull("disk full")
    full.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    assert not is_db_unavailable(full)
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


# -- a write that cannot complete is never acknowledged (issue 12, item 1) ---------------------


def _spool_file_fd(fd: int, directory: Path) -> bool:
    """Whether `fd` is the spool's data file (not its lock, quarantine or dead letters)."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False
    return target.startswith(str(directory)) and target.endswith((".spool", ".jsonl"))


def _keys(directory: Path) -> list[str]:
    return [r["dedupeKey"] for r in Spool(directory).pending()]


def test_short_write_then_enospc_is_refused_cut_back_and_next_record_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path)
    spool.append("a", "publish", {"pad": "x" * 200})
    before = spool.path.read_bytes()
    real_write = os.write
    calls: list[int] = []

    def full_disk(fd: int, data: bytes) -> int:
        if not _spool_file_fd(fd, tmp_path):
            return real_write(fd, data)
        calls.append(len(data))
        if len(calls) == 1:  # the volume takes half the record, then nothing more
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(SpoolFull) as err:
        spool.append("b", "publish", {"pad": "y" * 200})
    assert err.value.status_code == 503
    assert err.value.code == "spool_full"
    assert err.value.headers["Retry-After"]
    assert calls, "the append never reached os.write"
    # Nothing of the refused record is left behind, and nothing was counted.
    assert spool.path.read_bytes() == before
    assert spool.depth == 1
    assert SPOOL_DEPTH._value.get() == 1

    monkeypatch.setattr(os, "write", real_write)
    spool.append("c", "publish", {"pad": "z" * 200})
    assert _keys(tmp_path) == ["a", "c"]
    assert Spool(tmp_path).depth == spool.depth == 2


def test_short_writes_that_complete_are_retried_to_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.write may store fewer bytes than asked without an error: the rest must follow."""
    spool = Spool(tmp_path)
    real_write = os.write

    def dribble(fd: int, data: bytes) -> int:
        if not _spool_file_fd(fd, tmp_path):
            return real_write(fd, data)
        return real_write(fd, bytes(data[:7]))

    monkeypatch.setattr(os, "write", dribble)
    for k in "abc":
        spool.append(k, "publish", {"pad": k * 100})
    monkeypatch.setattr(os, "write", real_write)
    assert [r["data"]["pad"] for r in Spool(tmp_path).pending()] == ["a" * 100, "b" * 100,
                                                                     "c" * 100]


def test_failed_fsync_is_refused_and_the_record_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path)
    spool.append("a", "publish", {})
    real_fsync = os.fsync
    failed: list[int] = []

    def eio_once(fd: int) -> None:
        if not failed and _spool_file_fd(fd, tmp_path):
            failed.append(fd)
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", eio_once)
    with pytest.raises(SpoolFull):
        spool.append("b", "publish", {})
    assert failed
    assert _keys(tmp_path) == ["a"]
    assert spool.depth == 1
    spool.append("c", "publish", {})
    assert _keys(tmp_path) == ["a", "c"]


def test_torn_frame_never_swallows_the_record_after_it(tmp_path: Path) -> None:
    from postplan.core.spoolfile import encode, scan

    spool = Spool(tmp_path)
    spool.append("a", "publish", {})
    torn = encode({"dedupeKey": "torn", "data": {"pad": "t" * 300}})
    whole = encode({"dedupeKey": "c", "data": {}})
    with spool.path.open("ab") as fh:
        # A torn frame whose header promises more bytes than follow, then a whole frame
        # written right behind it (as an appender that did not cut the tail would).
        fh.write(torn[: len(torn) // 2])
        fh.write(whole)
    assert _keys(tmp_path) == ["a", "c"]
    assert spool.depth == 2
    spool.append("d", "publish", {})
    assert _keys(tmp_path) == ["a", "c", "d"]
    # A frame whose bytes were changed is skipped (checksum), not mis-read.
    data = bytearray(spool.path.read_bytes())
    at = data.index(b'"c"')
    data[at + 1:at + 2] = b"X"
    spool.path.write_bytes(bytes(data))
    assert _keys(tmp_path) == ["a", "d"]
    result = scan(spool.path.read_bytes())
    assert result.corrupt_bytes > 0 and result.tail_bytes == 0


def test_torn_tail_is_cut_before_the_next_append_and_kept_aside(tmp_path: Path) -> None:
    from postplan.core.spoolfile import encode, scan

    spool = Spool(tmp_path)
    spool.append("a", "publish", {})
    good = spool.path.stat().st_size
    torn = encode({"dedupeKey": "torn", "data": {}})[:-5]
    with spool.path.open("ab") as fh:
        fh.write(torn)
    assert Spool(tmp_path).depth == 1
    spool.append("b", "publish", {})
    data = spool.path.read_bytes()
    assert b"torn" not in data
    result = scan(data)
    assert [f.key for f in result.frames] == ["a", "b"]
    assert result.frames[1].offset == good  # the next record starts where the last whole one ended
    assert result.tail_bytes == result.corrupt_bytes == 0
    assert spool.quarantine_path.read_bytes() == torn


def test_depth_follows_the_file_another_process_changes(tmp_path: Path) -> None:
    ours, theirs = Spool(tmp_path), Spool(tmp_path)
    theirs.append("a", "publish", {})
    theirs.append("b", "publish", {})
    assert ours.depth == 2
    theirs.remove({"a"})
    assert ours.depth == 1
    assert ours.pending()[0]["dedupeKey"] == "b"


def test_record_size_total_and_per_owner_caps(tmp_path: Path) -> None:
    from postplan.core.spool import SpoolQuotaExceeded, SpoolRecordTooLarge

    spool = Spool(tmp_path, max_record_bytes=1024, max_owner_bytes=2048, max_bytes=3072)
    with pytest.raises(SpoolRecordTooLarge) as big:
        spool.append("big", "publish", {"pad": "x" * 2000}, owner="u1")
    assert big.value.status_code == 503 and big.value.code == "spool_record_too_large"
    assert big.value.headers["Retry-After"]
    outcomes: dict[str, list[Exception | None]] = {"u1": [], "u2": []}
    for owner in ("u1", "u2"):  # u2 still gets in after u1 used its share, up to the total
        for i in range(6):
            try:
                spool.append(f"{owner}-{i}", "publish", {"pad": "x" * 400}, owner=owner)
            except (SpoolQuotaExceeded, SpoolFull) as exc:
                outcomes[owner].append(exc)
            else:
                outcomes[owner].append(None)
    stored = outcomes["u1"].count(None)
    assert stored >= 2 and outcomes["u2"].count(None) >= 1
    quota = next(e for e in outcomes["u1"] if e is not None)
    assert isinstance(quota, SpoolQuotaExceeded)
    assert quota.status_code == 429 and quota.code == "spool_quota_exceeded"
    assert quota.headers["Retry-After"]
    assert any(isinstance(e, SpoolFull) for e in outcomes["u2"])
    assert spool.path.stat().st_size <= 3072
    assert spool.depth == len(spool.pending()) > stored
    assert "big" not in _keys(tmp_path)


def _fill(directory: Path, n: int, prefix: str = "k") -> tuple[list[str], list[str]]:
    """Append `n` records of varied sizes; which were acknowledged, which refused."""
    spool = Spool(directory)
    start = spool.depth
    acked: list[str] = []
    refused: list[str] = []
    for i in range(n):
        key = f"{prefix}{i}"
        try:
            spool.append(key, "publish", {"pad": "p" * (300 + 37 * (i % 11))})
        except SpoolFull:
            refused.append(key)
        else:
            acked.append(key)
        assert spool.depth == start + len(acked)
    return acked, refused


def _fill_up(path: Path) -> None:
    """Another writer takes every free byte of the volume."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while True:
            try:
                if os.write(fd, b"f" * 1024) < 1024:
                    break
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
    finally:
        os.close(fd)


def test_nearly_full_tmpfs_acknowledges_only_whole_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real 32 KiB tmpfs (needs root to mount; skipped otherwise)."""
    volume = tmp_path / "vol"
    volume.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32k,mode=0700", "tmpfs",
                              str(volume)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        # The spool keeps room to compact: it refuses before the volume is full ...
        acked, refused = _fill(volume, 60)
        assert _keys(volume) == acked  # every acknowledged record is whole on disk
        assert acked and refused, (acked, refused)
        # ... so a drain can always take records out again, and space comes back.
        Spool(volume).remove(set(acked[:3]))
        assert _keys(volume) == acked[3:]

        # Someone else fills the volume and the free-space check is blind (as over NFS or
        # quotas): writes now really fail part-way with ENOSPC.
        _fill_up(volume / "filler")
        monkeypatch.setattr(Spool, "_free_bytes", lambda self: None)
        more, refused = _fill(volume, 30, prefix="m")
        assert refused, "the volume never filled up"
        assert _keys(volume) == acked[3:] + more  # every ack whole, nothing refused kept
        assert not any(k in _keys(volume) for k in refused)
        # Draining everything needs no free space (truncation).
        spool = Spool(volume)
        spool.remove(set(_keys(volume)))
        assert spool.depth == 0 and spool.path.stat().st_size == 0
    finally:
        subprocess.run(["umount", "-l", str(volume)], check=False)


def test_file_size_limit_acknowledges_only_whole_records(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes writes past a size fail with EFBIG (no root needed)."""
    script = textwrap.dedent(f"""
        import resource, signal
        from pathlib import Path
        from tests.core.test_spool import _fill
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (12_000, 12_000))
        acked, refused = _fill(Path({str(tmp_path)!r}), 60)
        print(" ".join(acked)); print(" ".join(refused))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    acked, refused = (line.split() for line in out.stdout.splitlines()[-2:])
    assert _keys(tmp_path) == acked
    assert acked and refused
    assert Spool(tmp_path).depth == len(acked)


def test_records_of_the_json_lines_format_are_migrated(tmp_path: Path) -> None:
    """A spool left by an older version (one JSON object per line) is drained, not lost."""
    legacy = tmp_path / "publish.jsonl"
    legacy.write_bytes(b'{"dedupeKey":"old-1","kind":"publish","spooledAt":1.0,"data":{"i":1}}\n'
                       b'{"dedupeKey":"old-2","kind":"publish","spooledAt":2.0,"data":{"i":2}}\n'
                       b'{"dedupeKey":"torn","da')
    spool = Spool(tmp_path)
    assert [r["dedupeKey"] for r in spool.pending()] == ["old-1", "old-2"]
    assert spool.depth == 2
    assert not legacy.exists()
    spool.append("new", "publish", {})
    assert _keys(tmp_path) == ["old-1", "old-2", "new"]


async def test_dead_letter_that_cannot_be_written_keeps_the_record(tmp_path: Path) -> None:
    from postplan.core.spooldrain import RecordRejected

    spool = Spool(tmp_path)
    spool.append("bad", "publish", {})
    spool.append("good", "publish", {})
    spool.dead_letter_path.mkdir()  # the dead-letter file cannot be opened for writing

    async def sink(record: Record) -> None:
        if record["dedupeKey"] == "bad":
            raise RecordRejected("never valid")

    stats = await Drainer(spool, sink).drain_once()
    assert stats.drained == 1 and stats.dead_lettered == 0
    assert _keys(tmp_path) == ["bad"]  # not lost: set aside once the disk allows it
