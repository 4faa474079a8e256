"""What a database error means: busy (contention, answered 503 `database_busy`) or unreachable
(the degraded paths: spool, dry run, the worker's write retry). One classifier for every layer."""

from __future__ import annotations

import errno
import sqlite3

from postplan.core import db


def test_busy_is_never_unreachable() -> None:
    """A lock wait that ran out while a timeout was being handled is still contention: the
    publish endpoint must not spool it and generation must not turn it into a dry run."""
    busy = sqlite3.OperationalError("database is locked")
    busy.__context__ = TimeoutError()
    assert db.is_database_busy(busy)
    assert not db.is_db_unavailable(busy)
    assert db.is_db_unavailable(TimeoutError())


def test_refused_connection_is_unreachable_and_not_busy() -> None:
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "refused")
    assert db.is_db_unavailable(refused)
    assert not db.is_database_busy(refused)
