"""The flag document in the database (table `flag_definitions`, one row, id=1), for Postgres
clusters: every API process and worker polls the row's `revision` (one small indexed read) and
re-reads the document only when it moved. `postplan flags` writes here with a compare-and-set
on the revision, so two concurrent edits never silently overwrite each other.

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


class FlagRevisionConflict(RuntimeError):
    """Someone else wrote the flags between our read and our write."""


async def read_revision(engine: AsyncEngine) -> int | None:
    """The current revision, or None when no document was ever stored."""
    async with engine.connect() as conn:
        value = (await conn.execute(
            text("SELECT revision FROM flag_definitions WHERE id = :id"), {"id": _ROW}
        )).scalar_one_or_none()
    return None if value is None else int(value)


async def read_stored(engine: AsyncEngine) -> StoredFlags | None:
    """The stored document, or None when the table is empty."""
    async with engine.connect() as conn:
        row = (await conn.execute(
            text("SELECT revision, document, updated_by FROM flag_definitions WHERE id = :id"),
            {"id": _ROW})).first()
    if row is None:
        return None
    return StoredFlags(revision=int(row[0]), document=str(row[1]), updated_by=str(row[2]))


async def seed(engine: AsyncEngine, document: str, by: str) -> bool:
    """Store `document` as revision 1 if nothing is stored yet; True when this call stored it.
    Several processes may seed at once: the primary key lets exactly one win."""
    async with engine.begin() as conn:
        result = await conn.execute(text(
            "INSERT INTO flag_definitions (id, revision, document, updated_at, updated_by) "
            "VALUES (:id, 1, :doc, :at, :by) ON CONFLICT (id) DO NOTHING"),
            {"id": _ROW, "doc": document, "at": utcnow(), "by": by})
    return bool(result.rowcount)


async def write(engine: AsyncEngine, document: str, by: str, expected: int | None) -> int:
    """Replace the document if the revision is still `expected` (None: nothing stored yet);
    returns the new revision, or raises `FlagRevisionConflict`."""
    if expected is None:
        if await seed(engine, document, by):
            return 1
        raise FlagRevisionConflict("the flags were stored meanwhile")
    async with engine.begin() as conn:
        value = (await conn.execute(text(
            "UPDATE flag_definitions SET revision = revision + 1, document = :doc, "
            "updated_at = :at, updated_by = :by WHERE id = :id AND revision = :expected "
            "RETURNING revision"),
            {"id": _ROW, "doc": document, "at": utcnow(), "by": by, "expected": expected},
        )).scalar_one_or_none()
    if value is None:
        raise FlagRevisionConflict(f"the flags moved past revision {expected} meanwhile")
    return int(value)
