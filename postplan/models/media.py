"""Uploaded media (postplan.media): the library's rows, and resumable (tus) uploads in flight."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from postplan.core.db import JSONType, UTCDateTime
from postplan.models.base import Base, IdMixin, TimestampMixin


class Media(IdMixin, TimestampMixin, Base):
    """One uploaded file and what inspection found. The bytes live in the media store under
    `storage_key`; derived copies (`derived`: role -> {key, contentType, bytes}) beside it."""

    __tablename__ = "media"

    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # image | video
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)
    filename: Mapped[str] = mapped_column(Text, nullable=False)
    bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    storage_key: Mapped[str] = mapped_column(Text, nullable=False)
    # processing | ready | rejected; processing rows are picked up by the job (also at start).
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    #: Why a file was rejected: {code, message}; null otherwise.
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    frame_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    video_codec: Mapped[str | None] = mapped_column(String(32), nullable=True)
    audio_codec: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: Per channel and format: {"tiktok:video": {"ok", "findings", "derived"?}, ...}.
    checks: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    #: The inspection's full probe (container, rotation, orientation, colour mode...).
    probe: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    derived: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    #: Processing tries so far: a file that crashes the inspector is rejected, not retried
    #: forever.
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: Which process holds the job and until when (another process takes over after it).
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_media_user", "user_id", "created_at", "id"),
        Index("ix_media_status", "status", "lease_expires_at"),
    )


class MediaUpload(Base):
    """A resumable (tus) upload in flight: the bytes so far sit in a partial file of the local
    media folder; the last byte turns it into a `Media` row (`media_id`)."""

    __tablename__ = "media_uploads"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[str] = mapped_column(Text, nullable=False)
    filename: Mapped[str] = mapped_column(Text, nullable=False)
    length: Mapped[int] = mapped_column(BigInteger, nullable=False)
    offset: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    media_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_media_uploads_user", "user_id", "created_at"),)
