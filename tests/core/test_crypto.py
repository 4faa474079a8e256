"""Token encryption: scrypt for passphrases, Fernet keys as they are, rotation, 0.1 ciphertexts."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.fernet import Fernet, InvalidToken

from postplan.core.crypto import TokenCipher, new_key
from postplan.core.errors import AppError


def test_a_passphrase_goes_through_a_kdf_not_one_hash() -> None:
    cipher = TokenCipher("correct horse battery staple")
    token = cipher.encrypt("act.secret")
    one_hash = Fernet(base64.urlsafe_b64encode(
        hashlib.sha256(b"correct horse battery staple").digest()))
    with pytest.raises(InvalidToken):
        one_hash.decrypt(token.encode())
    assert cipher.decrypt(token) == "act.secret"


def test_a_fernet_key_is_used_as_it_is() -> None:
    key = new_key()
    token = TokenCipher(key).encrypt("act.secret")
    assert Fernet(key.encode()).decrypt(token.encode()) == b"act.secret"


def test_what_earlier_versions_wrote_still_decrypts() -> None:
    legacy = Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"old phrase").digest()))
    stored = legacy.encrypt(b"act.legacy").decode()
    cipher = TokenCipher("old phrase")
    assert cipher.decrypt(stored) == "act.legacy"
    assert not cipher.is_current(stored)
    assert cipher.is_current(cipher.reencrypt(stored))


def test_rotation_new_key_writes_old_keys_still_read() -> None:
    old, new = new_key(), "a new passphrase for 2027"
    stored = TokenCipher(old).encrypt("act.1")
    rotated = TokenCipher(f"{new}, {old}")
    assert rotated.decrypt(stored) == "act.1"
    fresh = rotated.encrypt("act.2")
    assert TokenCipher(new).decrypt(fresh) == "act.2"
    with pytest.raises(AppError) as err:
        TokenCipher(old).decrypt(fresh)
    assert err.value.code == "token_decrypt_failed"
    assert TokenCipher(new).decrypt(rotated.reencrypt(stored)) == "act.1"


def test_an_empty_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="no key"):
        TokenCipher(" , ")
