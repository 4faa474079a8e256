"""Signed, expiring media URLs: what a platform (Instagram) pulls without a token.

The signature is HMAC-SHA256 over `<media id>:<role>:<expiry>` with the signing key:
`MEDIA_SIGNING_KEY` when set; else a key derived from `TOKEN_ENCRYPTION_KEY` (every process of
one install already shares it); else a random key created once in `MEDIA_DIR/.signing-key`
(the embedded single-machine default). A URL names one file (the original or one derived copy)
until its expiry; changing the key invalidates every URL issued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

from postplan.config import Settings
from postplan.media.errors import SignatureExpired, SignatureInvalid

ORIGINAL = "original"
_KEY_FILE = ".signing-key"


def _key_file(folder: Path) -> bytes:
    """The install's random key, created once (0600) on first use."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _KEY_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()  # another process won the race: use its key
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def signing_key(settings: Settings) -> bytes:
    """The key media URLs are signed with (see the module docstring for the order)."""
    if settings.media_signing_key is not None:
        return settings.media_signing_key.get_secret_value().encode()
    if settings.token_encryption_key is not None:
        base = settings.token_encryption_key.get_secret_value().encode()
        # A key of its own, so a signature never reveals anything about the token key.
        return hmac.new(base, b"postplan media url signing v1", hashlib.sha256).digest()
    return _key_file(settings.media_dir)


def _sign(key: bytes, media_id: uuid.UUID, role: str, expires: int) -> str:
    mac = hmac.new(key, f"{media_id}:{role}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def signed_query(key: bytes, media_id: uuid.UUID, role: str, expires: int) -> str:
    """The query string of a signed URL: `exp`, `sig` and (for a derived copy) `role`."""
    params = {"exp": str(expires), "sig": _sign(key, media_id, role, expires)}
    if role != ORIGINAL:
        params["role"] = role
    return urlencode(params)


def signed_url(settings: Settings, key: bytes, media_id: uuid.UUID, role: str = ORIGINAL,
               *, now: float | None = None) -> str:
    """`PUBLIC_BASE_URL/v1/media/{id}/content?exp=..&sig=..` valid for MEDIA_URL_TTL_SECONDS.

    The expiry is rounded up to a whole minute so a page listing the same file twice within a
    minute gets the same URL (browser caches hit)."""
    moment = time.time() if now is None else now
    expires = int(moment + settings.media_url_ttl_seconds)
    expires += -expires % 60
    query = signed_query(key, media_id, role, expires)
    return f"{settings.public_base_url}/v1/media/{media_id}/content?{query}"


def verify(key: bytes, media_id: uuid.UUID, role: str, exp: str, sig: str,
           *, now: float | None = None) -> None:
    """Raise 403 `media_signature_invalid` for a wrong signature and `media_url_expired`
    past the expiry (checked after the signature, so a forged expiry is 'invalid')."""
    if not exp.isdigit() or len(exp) > 12:
        raise SignatureInvalid("the link's signature does not match")
    expected = _sign(key, media_id, role, int(exp))
    if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
        raise SignatureInvalid("the link's signature does not match")
    if int(exp) < (time.time() if now is None else now):
        raise SignatureExpired("the link has expired; ask for a fresh one")
