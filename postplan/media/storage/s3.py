"""Any S3-compatible object store (AWS S3, Cloudflare R2, MinIO, Supabase Storage's S3
endpoint) through obstore: the Rust `object_store` crate, which streams a new object as a
multipart upload in fixed parts (`open_writer_async`), reads byte ranges natively, and needs no
thread pool or boto session per request. A multipart upload that is never completed is not an
object: nothing appears under its key (the parts already sent are removed by the bucket's
AbortIncompleteMultipartUpload lifecycle rule, docs/media.md)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import obstore
from obstore.exceptions import NotFoundError
from obstore.store import S3Store

from postplan.config import Settings
from postplan.media.storage.base import CHUNK

if TYPE_CHECKING:
    from obstore import AsyncWritableFile

#: Part size of a multipart upload (S3's minimum is 5 MiB; 8 MiB keeps memory per upload low).
PART_BYTES = 8 << 20


def _split(url: str) -> tuple[str, str | None]:
    """`s3://bucket/prefix` -> (bucket, prefix or None)."""
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix.strip("/") or None


def build_s3_store(settings: Settings) -> S3Store:
    """The obstore client for MEDIA_STORE_URL, its endpoint, region and credentials."""
    assert settings.media_store_url is not None
    bucket, prefix = _split(settings.media_store_url)
    config: dict[str, Any] = {"region": settings.media_store_region}
    if settings.media_store_endpoint:
        # Every S3-compatible service but AWS itself is reached path-style at its endpoint.
        config["endpoint"] = settings.media_store_endpoint
        config["virtual_hosted_style_request"] = False
    if settings.media_store_access_key_id:
        config["access_key_id"] = settings.media_store_access_key_id
    if settings.media_store_secret_access_key:
        config["secret_access_key"] = settings.media_store_secret_access_key.get_secret_value()
    client = {"allow_http": bool(settings.media_store_endpoint
                                 and settings.media_store_endpoint.startswith("http://"))}
    return S3Store(bucket, prefix=prefix, config=config,  # type: ignore[arg-type]
                   client_options=client)  # type: ignore[arg-type]


class S3Writer:
    """A multipart upload; `commit` completes it, `abort` leaves no object."""

    def __init__(self, store: S3Store, key: str) -> None:
        self._store = store
        self._key = key
        self._file: AsyncWritableFile = obstore.open_writer_async(
            store, key, buffer_size=PART_BYTES)

    async def write(self, data: bytes) -> None:
        """Append (buffered into parts by obstore)."""
        await self._file.write(data)

    async def commit(self) -> None:
        """Complete the upload: the object appears whole."""
        await self._file.close()

    async def abort(self) -> None:
        """Drop the unfinished upload (never completed, so never visible); delete the key in
        case the store made a small object visible early."""
        del self._file
        with contextlib.suppress(NotFoundError, OSError):
            await obstore.delete_async(self._store, self._key)


class S3MediaStore:
    """The media store on an S3-compatible bucket."""

    name = "s3"

    def __init__(self, store: S3Store) -> None:
        self.store = store

    def writer(self, key: str) -> S3Writer:
        """A streaming multipart upload to `key`."""
        return S3Writer(self.store, key)

    async def size(self, key: str) -> int | None:
        """HEAD the object."""
        try:
            meta = await obstore.head_async(self.store, key)
        except (NotFoundError, FileNotFoundError):
            return None
        return int(meta["size"])

    def local_path(self, key: str) -> Path | None:
        """Objects in a bucket have no local file."""
        return None

    async def read(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """One ranged GET, streamed in pieces."""
        if end <= start:
            return
        result = await obstore.get_async(self.store, key, options={"range": (start, end)})
        async for piece in result.stream(min_chunk_size=CHUNK):
            yield bytes(piece)

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Upload a local file (multipart when large)."""
        await obstore.put_async(self.store, key, path,
                                attributes={"Content-Type": content_type})

    async def fetch_to(self, key: str, path: Path) -> None:
        """Download the object into a local file."""
        result = await obstore.get_async(self.store, key)
        out = await asyncio.to_thread(open, path, "wb")
        with out:
            async for piece in result.stream(min_chunk_size=CHUNK):
                await asyncio.to_thread(out.write, bytes(piece))

    async def delete(self, keys: list[str]) -> None:
        """Delete objects (missing ones are fine)."""
        for key in keys:
            try:
                await obstore.delete_async(self.store, key)
            except (NotFoundError, FileNotFoundError):
                continue

    async def list_keys(self) -> AsyncIterator[tuple[str, float]]:
        """Every object of the bucket (under the store's prefix), listed in pages."""
        async for page in obstore.list(self.store, chunk_size=500):
            for meta in page:
                yield str(meta["path"]), meta["last_modified"].timestamp()

    async def aclose(self) -> None:
        """obstore's client needs no closing."""
