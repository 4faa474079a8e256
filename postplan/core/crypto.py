"""Encryption at rest for channel tokens (Fernet: AES-128-CBC + HMAC-SHA256), with key rotation.

`TOKEN_ENCRYPTION_KEY` holds one key or several, comma-separated: the first encrypts every new
write, all of them decrypt, so a rotation is "put the new key first, keep the old ones after it,
run `postplan tokens reencrypt`, then drop the old ones". Each key is either a Fernet key (32
random bytes, urlsafe base64: `postplan tokens genkey`) used as it is, or a passphrase stretched
by scrypt, a memory-hard KDF, so a guessable phrase is not one SHA-256 away from the key.
Ciphertexts written by postplan 0.1/0.2 (key = SHA-256 of the passphrase) still decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from postplan.core.errors import AppError

#: Fixed, public salt: the derived key must be the same on every process and every restart
#: without storing anything; the secrecy is in the passphrase, scrypt's cost in the work factor.
_SCRYPT_SALT = b"postplan/token-encryption-key/v1"


def new_key() -> str:
    """A new random Fernet key, ready to paste into `TOKEN_ENCRYPTION_KEY`."""
    return Fernet.generate_key().decode("ascii")


def split_keys(setting: str) -> list[str]:
    """The configured keys, newest first (comma-separated; blanks ignored)."""
    return [k.strip() for k in setting.split(",") if k.strip()]


def _as_fernet_key(secret: str) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(secret.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    return secret.encode("ascii") if len(raw) == 32 else None


@lru_cache(maxsize=32)
def _derived(secret: str) -> bytes:
    # n=2**15, r=8: ~32 MiB and tens of ms once per process per key (cached), the usual
    # interactive-login cost; a brute force of the passphrase pays it per guess.
    kdf = Scrypt(salt=_SCRYPT_SALT, length=32, n=2**15, r=8, p=1)
    return base64.urlsafe_b64encode(kdf.derive(secret.encode("utf-8")))


def _legacy(secret: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode("utf-8")).digest())


class TokenCipher:
    """Encrypts with the first configured key; decrypts with any of them (and their 0.1 forms)."""

    def __init__(self, setting: str) -> None:
        keys = split_keys(setting)
        if not keys:
            raise ValueError("TOKEN_ENCRYPTION_KEY holds no key")
        fernets: list[Fernet] = []
        for secret in keys:
            direct = _as_fernet_key(secret)
            fernets.append(Fernet(direct if direct is not None else _derived(secret)))
        # Decrypt-only: what 0.1 and 0.2 wrote (SHA-256 of the configured string).
        fernets.extend(Fernet(_legacy(secret)) for secret in keys)
        self._primary = fernets[0]
        self._all = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> str:
        """Ciphertext safe to store in a text column, under the newest key."""
        return self._primary.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """The stored token; a wrong key raises a clear error instead of returning garbage."""
        try:
            return self._all.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise AppError(
                "stored channel token cannot be decrypted with TOKEN_ENCRYPTION_KEY",
                code="token_decrypt_failed",
                status_code=500,
            ) from exc

    def is_current(self, ciphertext: str) -> bool:
        """Whether the newest key already encrypts this value (nothing to re-encrypt)."""
        try:
            self._primary.decrypt(ciphertext.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def reencrypt(self, ciphertext: str) -> str:
        """The same plaintext under the newest key (raises like `decrypt` if no key opens it)."""
        return self.encrypt(self.decrypt(ciphertext))
