"""Rows every process of a cluster shares: the flag definitions, the per-account publish
pacing windows, and leases (one holder at a time for a background job such as pruning)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from postplan.core.db import JSONType, UTCDateTime
from postplan.models.base import Base


class FlagDefinition(Base):
    """The flagd JSON document in force (one row, id=1); `revision` goes up by one per write,
    so a process polls one small integer and re-reads the document only when it moved."""

    __tablename__ = "flag_definitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(BigInteger, nullable=False)
    document: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_by: Mapped[str] = mapped_column(Text, nullable=False)
    #: sha256 of the FLAGS_FILE content last imported: an unchanged file is never imported
    #: again, so a restart does not undo an edit made through `postplan flags`.
    file_sha256: Mapped[str | None] = mapped_column(String(64))


class PacingWindow(Base):
    """The times of the latest calls against one account's platform limit (a sliding window,
    at most `limit` entries), locked per row while a worker takes a slot."""

    __tablename__ = "pacing_windows"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    calls: Mapped[list[Any]] = mapped_column(JSONType, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)


class Lease(Base):
    """A named job's current holder until `expires_at` (the pruner, the alert evaluator)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(Text, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
