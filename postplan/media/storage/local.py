"""The embedded default store: a folder (`MEDIA_DIR`). A new object is written to a partial file
in `<dir>/.partial/` and renamed into place on commit (atomic on one filesystem), so a reader
never sees half a file and an interrupted upload leaves only a partial file that `abort`
removes (and `sweep_partials` clears after a crash)."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from postplan.media.storage.base import CHUNK

#: Partial files older than this are a crashed process's leftovers.
PARTIAL_MAX_AGE_SECONDS = 24 * 3600


class LocalWriter:
    """Buffered writes to a partial file, renamed to the key's path on commit."""

    def __init__(self, final: Path, partial: Path) -> None:
        self._final = final
        self._partial = partial
        self._file = open(partial, "wb")  # noqa: SIM115 - closed by commit/abort
        self._buffer = bytearray()

    async def write(self, data: bytes) -> None:
        """Append. Small pieces are gathered; a megabyte or more goes to disk in a thread (a
        busy disk blocks `write` for as long as the kernel throttles dirty pages)."""
        if not self._buffer and len(data) >= CHUNK:
            await asyncio.to_thread(self._file.write, data)
            return
        self._buffer += data
        if len(self._buffer) >= CHUNK:
            block = bytes(self._buffer)
            self._buffer.clear()
            await asyncio.to_thread(self._file.write, block)

    async def commit(self) -> None:
        """Flush, fsync (off the loop) and rename into place."""
        await asyncio.to_thread(self._file.write, bytes(self._buffer))
        self._buffer.clear()
        self._file.flush()
        await asyncio.to_thread(os.fsync, self._file.fileno())
        self._file.close()
        self._final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._partial, self._final)

    async def abort(self) -> None:
        """Close and remove the partial file."""
        self._file.close()
        self._partial.unlink(missing_ok=True)


class LocalStore:
    """Objects as files under one folder; keys are relative paths made by postplan only."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        # Created on first write, so an app that never stores a file leaves no folder behind.
        self.partial_dir = self.root / ".partial"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"key outside the media folder: {key!r}")
        return path

    def writer(self, key: str) -> LocalWriter:
        """A writer whose partial file sits in `.partial/` on the same filesystem."""
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        return LocalWriter(self._path(key), self.partial_dir / uuid.uuid4().hex)

    async def size(self, key: str) -> int | None:
        """The file's size, None when missing."""
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def local_path(self, key: str) -> Path | None:
        """The file itself."""
        return self._path(key)

    async def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Read a range in pieces (FileResponse is used instead where a response can be)."""
        handle = await asyncio.to_thread(open, self._path(key), "rb")
        with handle:
            handle.seek(start)
            left = end - start
            while left > 0:
                data = await asyncio.to_thread(handle.read, min(CHUNK, left))
                if not data:
                    return
                left -= len(data)
                yield data

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Copy a local file in (through a partial file, then rename)."""
        final = self._path(key)
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        partial = self.partial_dir / uuid.uuid4().hex
        await asyncio.to_thread(shutil.copyfile, path, partial)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, final)

    async def fetch_to(self, key: str, path: Path) -> None:
        """Copy the file out."""
        await asyncio.to_thread(shutil.copyfile, self._path(key), path)

    async def delete(self, keys: list[str]) -> None:
        """Remove files and the folders they leave empty."""
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            parent = path.parent
            while parent != self.root and parent.is_relative_to(self.root):
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent

    async def list_keys(self) -> AsyncIterator[tuple[str, float]]:
        """Every file under the folder but postplan's own working folders (`.partial`,
        `.uploads`: dot-named, never a key)."""

        def walk() -> list[tuple[str, float]]:
            found: list[tuple[str, float]] = []
            for folder, dirs, files in os.walk(self.root):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for name in files:
                    path = Path(folder) / name
                    try:
                        found.append((path.relative_to(self.root).as_posix(),
                                      path.stat().st_mtime))
                    except FileNotFoundError:
                        continue
            return found

        for item in await asyncio.to_thread(walk):
            yield item

    def sweep_partials(self, max_age: float = PARTIAL_MAX_AGE_SECONDS) -> int:
        """Remove partial files left by a process that died mid-write; returns how many."""
        cutoff = time.time() - max_age
        removed = 0
        if not self.partial_dir.is_dir():
            return 0
        for item in self.partial_dir.iterdir():
            try:
                if item.stat().st_mtime < cutoff:
                    item.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    async def aclose(self) -> None:
        """Nothing to release."""
