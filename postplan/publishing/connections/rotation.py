"""The publishing domain's encrypted columns, for `postplan tokens reencrypt` (core.rotation)."""

from __future__ import annotations

from postplan.core.rotation import EncryptedColumn
from postplan.publishing.tables import connections, oauth_states

__all__ = ["ENCRYPTED"]

#: Channel tokens and the PKCE verifiers of OAuth flows in progress.
ENCRYPTED: tuple[EncryptedColumn, ...] = (
    (connections, "access_token_enc"),
    (connections, "refresh_token_enc"),
    (oauth_states, "code_verifier_enc"),
)
