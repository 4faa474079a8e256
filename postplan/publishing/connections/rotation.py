"""Re-encrypting stored secrets under the newest `TOKEN_ENCRYPTION_KEY` after a rotation.

Rows are read and rewritten in small batches, each row only when its value changed in between
(compare-and-set on the old ciphertext), so a refresh racing the command is never overwritten
with an older token.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.core.crypto import TokenCipher
from postplan.core.db import writer
from postplan.publishing.tables import connections, oauth_states

#: Each encrypted column: its table and its primary key column.
_COLUMNS: tuple[tuple[Table, str], ...] = (
    (connections, "access_token_enc"),
    (connections, "refresh_token_enc"),
    (oauth_states, "code_verifier_enc"),
)


@dataclass
class RotationReport:
    """What a pass did: values rewritten, already current, and unreadable with any key."""

    rewritten: int = 0
    current: int = 0
    unreadable: int = 0


async def reencrypt_all(engine: AsyncEngine, cipher: TokenCipher, *,
                        batch: int = 200) -> RotationReport:
    """Rewrite every stored secret that the newest key does not already encrypt."""
    report = RotationReport()
    for table, column in _COLUMNS:
        col = table.c[column]
        pk = table.c.id
        last = None
        while True:
            query = select(pk, col).where(col.is_not(None)).order_by(pk).limit(batch)
            if last is not None:
                query = query.where(pk > last)
            async with engine.connect() as conn:
                rows = (await conn.execute(query)).all()
            if not rows:
                break
            last = rows[-1][0]
            changes: list[tuple[object, str, str]] = []
            for row_id, stored in rows:
                value = str(stored)
                if cipher.is_current(value):
                    report.current += 1
                    continue
                try:
                    changes.append((row_id, value, cipher.reencrypt(value)))
                except Exception:  # AppError token_decrypt_failed: reported, left as it is
                    report.unreadable += 1
            if changes:
                async with writer(engine).begin() as conn:
                    for row_id, old, new in changes:
                        result = await conn.execute(
                            update(table).where(pk == row_id, col == old).values({column: new}))
                        report.rewritten += result.rowcount or 0
    return report
