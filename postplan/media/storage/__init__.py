"""Where media bytes live: a local folder (default) or an S3-compatible bucket."""

from __future__ import annotations

from postplan.config import Settings
from postplan.media.storage.base import CHUNK, MediaStore, ObjectWriter
from postplan.media.storage.local import LocalStore

__all__ = ["CHUNK", "LocalStore", "MediaStore", "ObjectWriter", "build_store"]


def build_store(settings: Settings) -> MediaStore:
    """The S3 store when MEDIA_STORE_URL is set, else the folder MEDIA_DIR."""
    if settings.media_store_url:
        from postplan.media.storage.s3 import S3MediaStore, build_s3_store

        return S3MediaStore(build_s3_store(settings))
    return LocalStore(settings.media_dir)
