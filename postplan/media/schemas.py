"""Media as the API shows it (docs/contract.md §8): camelCase, URLs signed per response."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import Field

from postplan.core.schemas import Page, Schema


class Finding(Schema):
    code: str
    message: str


class Check(Schema):
    """One channel and format: whether the platform will take the file (or its derived copy)."""

    ok: bool
    findings: list[Finding] = Field(default_factory=list)
    #: The derived copy used for this channel and format, when one was made.
    derived: str | None = None


class MediaError(Schema):
    code: str
    message: str


class MediaOut(Schema):
    id: uuid.UUID
    kind: Literal["image", "video"]
    content_type: str
    filename: str
    bytes: int
    sha256: str
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    frame_rate: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    status: Literal["processing", "ready", "rejected"]
    #: Why a file was rejected (null otherwise).
    error: MediaError | None = None
    checks: dict[str, Check] = Field(default_factory=dict)
    #: Signed, expiring URL of the original (no auth needed until it expires).
    url: str
    #: Signed URL of the thumbnail, once processing made one.
    thumbnail_url: str | None = None
    #: Signed URLs of the derived copies by role (`jpeg`, `scaled`, `cover`...).
    derived: dict[str, str] = Field(default_factory=dict)
    created_at: dt.datetime


class MediaPage(Page[MediaOut]):
    pass


def checks_out(raw: dict[str, Any] | None) -> dict[str, Check]:
    """The stored checks as the schema: unknown extra keys are dropped, not failed on."""
    out: dict[str, Check] = {}
    for name, value in (raw or {}).items():
        if isinstance(value, dict):
            out[name] = Check.model_validate(
                {"ok": bool(value.get("ok")), "findings": value.get("findings") or [],
                 "derived": value.get("derived")})
    return out
