"""The spool's on-disk format and the low-level writes that make a record durable.

One record is one frame, on one line:

    RS "PPS1" SP <length: 8 hex digits> SP <crc32: 8 hex digits> SP <payload> LF

RS is the ASCII record separator (0x1E). <payload> is exactly `length` bytes of compact,
ASCII-only JSON (an object with at least a string `dedupeKey`); JSON escapes every control
character, so a payload never contains RS or LF and RS always starts a frame. <crc32> is
zlib's CRC-32 of the payload. A frame counts only when its header parses, the byte right after
the payload is LF, the checksum matches and the payload is such an object.

Why framed: a write that stopped part-way (full disk, file-size limit, crash) leaves a prefix of
a frame. The length and checksum tell that prefix apart from a record, and the reader looks for
the next RS instead of trusting line ends, so a torn frame can neither be mis-read as a record
nor swallow the record written after it. The file stays readable with `cat`/`less`/`grep`.
"""

from __future__ import annotations

import errno
import json
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from postplan.core.logging import get_logger

log = get_logger(__name__)

Record = dict[str, Any]

MAGIC = b"\x1ePPS1 "
#: MAGIC + 8 hex length + SP + 8 hex crc + SP.
HEADER_BYTES = len(MAGIC) + 8 + 1 + 8 + 1
_MAX_PAYLOAD = 0xFFFFFFFF


class ShortWrite(OSError):
    """`write` stored nothing more although bytes were left (treated like a full disk)."""


def encode(record: Record) -> bytes:
    """One frame for `record` (see the module docstring)."""
    payload = json.dumps(record, separators=(",", ":"), ensure_ascii=True,
                         default=str).encode("ascii")
    if len(payload) > _MAX_PAYLOAD:
        raise ValueError("record too large for a spool frame")
    header = MAGIC + b"%08x %08x " % (len(payload), zlib.crc32(payload))
    return header + payload + b"\n"


@dataclass(frozen=True)
class Frame:
    """One valid record found in a spool file, and where its bytes are."""

    offset: int
    size: int
    record: Record

    @property
    def key(self) -> str:
        return str(self.record["dedupeKey"])


@dataclass
class Scan:
    """What a spool file holds: its valid frames, and the bytes that are not one."""

    frames: list[Frame] = field(default_factory=list)
    #: End of the last valid frame: where the next append must start.
    good_end: int = 0
    #: Bytes between valid frames that are not a frame (damage; dropped by the next compaction).
    corrupt_bytes: int = 0
    #: Bytes after the last valid frame (a torn, unacknowledged append; cut before the next).
    tail_bytes: int = 0


def _decode_at(data: bytes, start: int) -> Frame | None:
    """The frame starting at `start` (where MAGIC is), or None when it is not a whole one."""
    head_end = start + HEADER_BYTES
    if head_end > len(data):
        return None
    head = data[start + len(MAGIC):head_end]
    if head[8:9] != b" " or head[17:18] != b" ":
        return None
    try:
        length = int(head[0:8], 16)
        crc = int(head[9:17], 16)
    except ValueError:
        return None
    end = head_end + length
    if end >= len(data) or data[end:end + 1] != b"\n":
        return None
    payload = data[head_end:end]
    if zlib.crc32(payload) != crc:
        return None
    try:
        record = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("dedupeKey"), str):
        return None
    return Frame(offset=start, size=end + 1 - start, record=record)


def scan(data: bytes) -> Scan:
    """Every valid frame in `data`, in order; damage is skipped, never parsed as a record."""
    out = Scan()
    pos = 0
    while pos < len(data):
        start = data.find(MAGIC, pos)
        if start < 0:
            break
        frame = _decode_at(data, start)
        if frame is None:
            pos = start + 1  # not a whole frame here: look for the next RS
            continue
        out.corrupt_bytes += start - out.good_end
        out.frames.append(frame)
        out.good_end = pos = frame.offset + frame.size
    out.tail_bytes = len(data) - out.good_end
    return out


@dataclass
class FileIndex:
    """What a spool file held when it was last read (or appended to by this process)."""

    #: (inode, size, mtime_ns) of the file this index describes; None when there is no file.
    stat: tuple[int, int, int] | None = None
    #: End of the last whole frame (the file size, unless a torn tail follows it).
    good_end: int = 0
    #: First frame of each distinct key: (offset, size).
    keys: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Bytes of whole frames per owner (every copy counts: it is disk used).
    owner_bytes: dict[str, int] = field(default_factory=dict)
    oldest: float | None = None

    @classmethod
    def of(cls, result: Scan, stat: tuple[int, int, int] | None) -> FileIndex:
        index = cls(stat=stat, good_end=result.good_end)
        for frame in result.frames:
            index.add(frame)
        return index

    def add(self, frame: Frame) -> None:
        self.keys.setdefault(frame.key, (frame.offset, frame.size))
        owner = frame.record.get("owner")
        if isinstance(owner, str):
            self.owner_bytes[owner] = self.owner_bytes.get(owner, 0) + frame.size
        at = frame.record.get("spooledAt")
        if isinstance(at, int | float) and (self.oldest is None or at < self.oldest):
            self.oldest = float(at)


def stat_key(st: os.stat_result) -> tuple[int, int, int]:
    """What identifies one state of a file: (inode, size, mtime_ns)."""
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def parse_legacy_jsonl(data: bytes) -> list[Record]:
    """Records of the pre-frame format (one JSON object per line); a torn last line is skipped."""
    records: list[Record] = []
    for raw in data.split(b"\n")[:-1]:
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("dedupeKey"), str):
            records.append(rec)
    return records


#: The write call appends go through (`os.write`); tests replace it to inject failures.
Writer = Callable[[int, memoryview], int]


def write_all(fd: int, data: bytes, write: Writer | None = None) -> None:
    """Write every byte of `data`: `write` may store fewer bytes than asked (a short write).

    Raises OSError (ENOSPC, EFBIG, EIO, …, or `ShortWrite` when a call stores nothing) when
    the bytes cannot all be written; the caller then rolls the file back.
    """
    writer = write or os.write
    view = memoryview(data)
    while view:
        written = writer(fd, view)
        if written <= 0:
            raise ShortWrite(errno.ENOSPC, "write stored no bytes")
        view = view[written:]


def read_exactly(fd: int, size: int) -> bytes:
    """The first `size` bytes of an open file (fewer if it was cut meanwhile)."""
    chunks: list[bytes] = []
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(size - offset, 1 << 20), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def fsync_dir(path: Path) -> None:
    """Make a directory entry (a created or renamed file) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_durably(path: Path, data: bytes, *, write: Writer | None = None) -> None:
    """Append `data` to `path` and fsync it, or leave the file as it was and raise OSError.

    Used for side files (dead letters, quarantine) where a torn line must not stay behind.
    """
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        start = os.fstat(fd).st_size
        try:
            write_all(fd, data, write)
            os.fsync(fd)
        except OSError:
            rollback(fd, start)
            raise
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)


def rollback(fd: int, size: int) -> None:
    """Cut a failed append back to `size`; if even that fails, readers skip the torn bytes."""
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError as exc:
        log.error("spool.rollback_failed", errorType=type(exc).__name__, errno=exc.errno)

