"""Encryption at rest for channel tokens (Fernet: AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from postplan.core.errors import AppError


class TokenCipher:
    """Encrypts and decrypts channel tokens with a key derived from `TOKEN_ENCRYPTION_KEY`."""

    def __init__(self, secret: str) -> None:
        # Any string works as the configured secret: it is stretched to a Fernet key, so an
        # operator can paste a random passphrase or a Fernet key alike.
        digest = hashlib.sha256(secret.encode("utf-8")).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, plaintext: str) -> str:
        """Ciphertext safe to store in a text column."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """The stored token; a wrong key raises a clear error instead of returning garbage."""
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise AppError(
                "stored channel token cannot be decrypted with TOKEN_ENCRYPTION_KEY",
                code="token_decrypt_failed",
                status_code=500,
            ) from exc
