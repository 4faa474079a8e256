"""The flag document in the database (table `flag_definitions`, one row, id=1), for Postgres
clusters: every API process and worker polls the row's `revision` (one small indexed read) and
re-reads the document only when it moved. `postplan flags` writes here with a compare-and-set
on the revision, so two concurrent edits never silently overwrite each other.

`FLAGS_FILE`, when set, is imported: a process that sees the file's content change (or start
with content the row has not imported yet, by its sha256) writes it as a new revision. An
unchanged file is never imported again, so a restart does not undo a CLI edit.

Plain SQL on purpose: core knows no models (the table is `postplan.models.cluster`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.core.db import utcnow

_ROW = 1


@dataclass(frozen=True)
class StoredFlags:
    """The document in force and its revision."""

    revision: int
    document: str
    updated_by: str


@dataclass(frozen=True)
class FlagHead:
    """What a poll reads: the revision, and the sha256 of the FLAGS_FILE last imported."""

    revision: int
    file_sha256: str | None


class FlagRevisionConflict(RuntimeError):
    """Someone else wrote the flags between our read and our write."""


async def read_head(engine: AsyncEngine) -> FlagHead | None:
    """The revision and last imported file digest (one row, two small columns), or None."""
    async with engine.connect() as conn:
        row = (await conn.execute(
            text("SELECT revision, file_sha256 FROM flag_definitions WHERE id = :id"),
            {"id": _ROW})).first()
    return None if row is None else FlagHead(revision=int(row[0]), file_sha256=row[1])


async def read_stored(engine: AsyncEngine) -> StoredFlags | None:
    """The stored document, or None when the table is empty."""
    async with engine.connect() as conn:
        row = (await conn.execute(
            text("SELECT revision, document, updated_by FROM flag_definitions WHERE id = :id"),
            {"id": _ROW})).first()
    if row is None:
        return None
    return StoredFlags(revision=int(row[0]), document=str(row[1]), updated_by=str(row[2]))


async def seed(engine: AsyncEngine, document: str, by: str,
               file_sha256: str | None = None) -> bool:
    """Store `document` as revision 1 if nothing is stored yet; True when this call stored it.
    Several processes may seed at once: the primary key lets exactly one win."""
    async with engine.begin() as conn:
        result = await conn.execute(text(
            "INSERT INTO flag_definitions (id, revision, document, updated_at, updated_by, "
            "file_sha256) VALUES (:id, 1, :doc, :at, :by, :sha) ON CONFLICT (id) DO NOTHING"),
            {"id": _ROW, "doc": document, "at": utcnow(), "by": by, "sha": file_sha256})
    return bool(result.rowcount)


async def write(engine: AsyncEngine, document: str, by: str, expected: int | None, *,
                file_sha256: str | None = None) -> int:
    """Replace the document if the revision is still `expected` (None: nothing stored yet);
    returns the new revision, or raises `FlagRevisionConflict`. `file_sha256`: this is an
    import of FLAGS_FILE with that digest (a CLI edit keeps the digest of the last import)."""
    if expected is None:
        if await seed(engine, document, by, file_sha256):
            return 1
        raise FlagRevisionConflict("the flags were stored meanwhile")
    async with engine.begin() as conn:
        value = (await conn.execute(text(
            "UPDATE flag_definitions SET revision = revision + 1, document = :doc, "
            "updated_at = :at, updated_by = :by, "
            "file_sha256 = COALESCE(:sha, file_sha256) WHERE id = :id AND revision = :expected "
            "RETURNING revision"),
            {"id": _ROW, "doc": document, "at": utcnow(), "by": by, "expected": expected,
             "sha": file_sha256},
        )).scalar_one_or_none()
    if value is None:
        raise FlagRevisionConflict(f"the flags moved past revision {expected} meanwhile")
    return int(value)
