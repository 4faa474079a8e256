"""What the media domain needs from a place that keeps bytes: write a new object in a stream
(all or nothing), read a byte range, copy a local file in, fetch to a local file, delete, list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

#: Read and write in pieces of this size: large enough that per-call overhead vanishes, small
#: enough that a request holds at most a few of them in memory.
CHUNK = 1 << 20


class ObjectWriter(Protocol):
    """A new object being written. Nothing is visible under its key before `commit`; `abort`
    (or a failure) leaves nothing behind."""

    async def write(self, data: bytes) -> None:
        """Append bytes."""

    async def commit(self) -> None:
        """Make the object visible under its key."""

    async def abort(self) -> None:
        """Throw away what was written."""


class MediaStore(Protocol):
    """A local folder or an S3-compatible bucket (postplan.media.storage.build_store)."""

    name: str

    def writer(self, key: str) -> ObjectWriter:
        """Start writing a new object at `key`."""

    async def size(self, key: str) -> int | None:
        """The object's size in bytes, None when there is none."""

    def local_path(self, key: str) -> Path | None:
        """The object's file when the store is a local folder (served with sendfile)."""

    def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes `start` to `end` (exclusive), in pieces."""

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store a local file under `key` (derived copies)."""

    async def fetch_to(self, key: str, path: Path) -> None:
        """Copy the object into a local file (for ffprobe and Pillow)."""

    async def delete(self, keys: list[str]) -> None:
        """Remove objects; a key that is already gone is not an error."""

    def list_keys(self) -> AsyncIterator[tuple[str, float]]:
        """Every stored object as (key, last modified as a Unix time), in no order."""

    async def aclose(self) -> None:
        """Release connections."""
