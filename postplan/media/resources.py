"""The media domain's process-wide resources (store, signing key, the processing job's bell),
created by the lifespan hook and reached by handlers through `Resources`."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from postplan.config import Settings
from postplan.media.signing import signing_key
from postplan.media.storage import MediaStore, build_store


@dataclass
class MediaResources:
    settings: Settings
    store: MediaStore
    #: Set after each upload so the processing job starts at once instead of at its next poll.
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    _key: bytes | None = None

    @property
    def key(self) -> bytes:
        """The URL signing key, read (or created) on first use."""
        if self._key is None:
            self._key = signing_key(self.settings)
        return self._key


def upload_path(settings: Settings, upload_id: uuid.UUID) -> Path:
    """Where a resumable upload's bytes so far are kept (local disk, `MEDIA_DIR/.uploads`)."""
    return settings.media_dir / ".uploads" / upload_id.hex


def build_resources(settings: Settings) -> MediaResources:
    """The store for the settings; the signing key is read when first needed."""
    return MediaResources(settings=settings, store=build_store(settings))


def media_resources(request: Request) -> MediaResources:
    """The app's media resources (installed by `media_lifespan`; built on first use when an
    app runs without its lifespan, as some tests do)."""
    found: MediaResources | None = getattr(request.app.state, "media", None)
    if found is None:
        found = build_resources(request.app.state.settings)
        request.app.state.media = found
    return found


Resources = Annotated[MediaResources, Depends(media_resources)]
