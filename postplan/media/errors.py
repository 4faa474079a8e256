"""The media domain's problems (each a stable `code`, listed in docs/contract-notes.md)."""

from __future__ import annotations

from postplan.core.errors import AppError, Conflict, NotFound


class MediaNotFound(NotFound):
    code = "media_not_found"
    title = "Media not found"


class MediaTooLarge(AppError):
    status_code = 413
    code = "media_too_large"
    title = "Media too large"


class MediaQuotaExceeded(AppError):
    """The user's stored bytes would pass `MEDIA_QUOTA_BYTES`."""

    status_code = 413
    code = "media_quota_exceeded"
    title = "Media storage quota exceeded"


class UnsupportedMedia(AppError):
    status_code = 415
    code = "unsupported_media"
    title = "Unsupported media"


class EmptyMedia(AppError):
    status_code = 422
    code = "media_empty"
    title = "Empty file"


class BadUpload(AppError):
    """The request is not a well-formed upload (no `file` field, a broken multipart body)."""

    status_code = 422
    code = "media_upload_invalid"
    title = "Invalid upload"


class BadFilename(AppError):
    status_code = 422
    code = "media_filename_invalid"
    title = "Invalid filename"


class MediaInUse(Conflict):
    code = "media_in_use"
    title = "Media in use"


class MediaNotReady(Conflict):
    code = "media_not_ready"
    title = "Media not ready"


class SignatureInvalid(AppError):
    status_code = 403
    code = "media_signature_invalid"
    title = "Invalid signature"


class SignatureExpired(AppError):
    status_code = 403
    code = "media_url_expired"
    title = "Link expired"


class RangeNotSatisfiable(AppError):
    status_code = 416
    code = "range_not_satisfiable"
    title = "Range not satisfiable"


class UploadOffsetMismatch(Conflict):
    """tus: a PATCH whose Upload-Offset is not where the upload stands."""

    code = "upload_offset_mismatch"
    title = "Upload offset mismatch"
