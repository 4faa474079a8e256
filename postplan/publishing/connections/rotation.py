"""The publishing domain's encrypted columns, for `postplan tokens reencrypt` (core.rotation)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.core.crypto import TokenCipher
from postplan.core.rotation import EncryptedColumn, RotationReport, reencrypt_columns
from postplan.publishing.tables import connections, oauth_states

__all__ = ["ENCRYPTED", "RotationReport", "reencrypt_all"]

#: Channel tokens and the PKCE verifiers of OAuth flows in progress.
ENCRYPTED: tuple[EncryptedColumn, ...] = (
    (connections, "access_token_enc"),
    (connections, "refresh_token_enc"),
    (oauth_states, "code_verifier_enc"),
)


async def reencrypt_all(engine: AsyncEngine, cipher: TokenCipher, *,
                        batch: int = 200) -> RotationReport:
    """Rewrite the publishing domain's secrets that the newest key does not encrypt."""
    return await reencrypt_columns(engine, cipher, ENCRYPTED, batch=batch)
