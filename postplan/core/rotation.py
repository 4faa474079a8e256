"""Re-encrypting stored secrets under the newest `TOKEN_ENCRYPTION_KEY` after a rotation.

Each domain names its own encrypted columns (`publishing.connections.rotation.ENCRYPTED`,
`notifications.store.ENCRYPTED`); `postplan tokens reencrypt` passes them all here. Rows are
read and rewritten in small batches, each row only when its value did not change in between
(compare-and-set on the old ciphertext), so a refresh racing the command is never overwritten
with an older token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.core.crypto import TokenCipher
from postplan.core.db import writer

__all__ = ["EncryptedColumn", "RotationReport", "reencrypt_columns"]

#: (table, column): one column of ciphertexts; the table's primary key is `id`.
EncryptedColumn = tuple[Table, str]


@dataclass
class RotationReport:
    """What a pass did: values rewritten, already current, and unreadable with any key."""

    rewritten: int = 0
    current: int = 0
    unreadable: int = 0


async def reencrypt_columns(engine: AsyncEngine, cipher: TokenCipher,
                            columns: Iterable[EncryptedColumn], *,
                            batch: int = 200) -> RotationReport:
    """Rewrite every value of `columns` that the newest key does not already encrypt."""
    report = RotationReport()
    for table, column in columns:
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
