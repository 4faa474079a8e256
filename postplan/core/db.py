"""Engine and session factories for SQLite (aiosqlite) and Postgres (asyncpg); portable types;
what a database error means (busy, or unreachable)."""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import socket
import uuid
from typing import Any

from sqlalchemy import JSON, DateTime, TypeDecorator, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from postplan.core.errors import AppError


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite drops tzinfo otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


#: JSON on SQLite, JSONB on Postgres.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    """The current instant, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def new_id() -> uuid.UUID:
    """A fresh random id."""
    return uuid.uuid4()


def create_engine(url: str, *, disable_statement_cache: bool = False,
                  pool_size: int = 10, pre_ping: bool = True,
                  max_overflow: int | None = None) -> AsyncEngine:
    """An async engine tuned for the backend the URL names.

    `pre_ping` checks each pooled Postgres connection before use (asyncpg: BEGIN, `;`,
    ROLLBACK, three round trips per checkout). Request handlers keep it: a request after a
    database restart then never sees a dead connection. The publish worker turns it off: it
    checks out a connection several times per post, and a job that hits a dead connection is
    already safe (the failed write rolls back, SQLAlchemy invalidates the whole pool on the
    disconnect, and the job retries or reconciles on a fresh connection).
    """
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # One connection per checkout keeps SQLite's locking simple; WAL lets readers run
        # beside the single writer; busy_timeout waits instead of failing on a held lock.
        kwargs["poolclass"] = NullPool
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_size"] = pool_size
        # Overflow connections are opened and closed per checkout: a burst past pool_size
        # pays a connect each time, so workers size the pool to their concurrency instead.
        kwargs["max_overflow"] = pool_size if max_overflow is None else max_overflow
        kwargs["pool_pre_ping"] = pre_ping
        connect_args: dict[str, Any] = {"timeout": 5, "command_timeout": 30}
        if disable_statement_cache:
            # Transaction poolers hand each transaction a different backend: named prepared
            # statements would collide, so they are switched off and given unique names.
            connect_args["statement_cache_size"] = 0
            connect_args["prepared_statement_name_func"] = lambda: f"__pp_{uuid.uuid4().hex}__"
        kwargs["connect_args"] = connect_args
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        _install_sqlite_pragmas(engine)
    return engine


#: How long a SQLite statement waits for another connection's lock before "database is locked"
#: (a request then answers 503 `database_busy`).
SQLITE_BUSY_TIMEOUT_MS = 30_000

#: The execution option the "begin" listener reads: how a SQLite transaction starts (spelled
#: out in `begin_write`, where the options are a TypedDict).
_SQLITE_BEGIN = "sqlite_begin"
_BEGIN_IMMEDIATE = "BEGIN IMMEDIATE"


def _install_sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # aiosqlite's default isolation emits BEGIN lazily (DEFERRED); we issue our own
        # BEGIN so that write paths can begin with BEGIN IMMEDIATE (see `writer`).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_MS)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(_SQLITE_BEGIN, "BEGIN")
        conn.exec_driver_sql(mode)


def writer(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool, with every transaction taking SQLite's write lock at BEGIN.

    The one mechanism behind every write path. A deferred SQLite transaction that reads and
    then writes cannot wait for the lock: when it tries to upgrade, SQLite answers "database is
    locked" at once (the busy handler is skipped, since waiting could deadlock two readers that
    both want to write, and a snapshot older than another writer's commit can never write).
    `BEGIN IMMEDIATE` takes the lock before the first read, so a transaction waits its turn
    (up to busy_timeout) and then reads what it will write on. Postgres gets the engine
    itself: its row locks (`FOR UPDATE`) and MVCC need nothing of the kind.
    """
    if engine.dialect.name != "sqlite" or \
            engine.get_execution_options().get(_SQLITE_BEGIN) == _BEGIN_IMMEDIATE:
        return engine
    # Kept on the engine (a derived engine costs ~50 µs to make, and shares the pool).
    derived: AsyncEngine | None = engine.sync_engine.__dict__.get("_postplan_writer")
    if derived is None:
        derived = engine.execution_options(**{_SQLITE_BEGIN: _BEGIN_IMMEDIATE})
        engine.sync_engine.__dict__["_postplan_writer"] = derived
    return derived


async def begin_write(session: AsyncSession) -> None:
    """Start the session's transaction holding SQLite's write lock (a no-op on Postgres).

    For code handed a session it did not open; a session from a write sessionmaker
    (`create_sessionmaker(engine, write=True)`) already begins this way. See `writer`.
    """
    if not session.in_transaction():
        await session.connection(execution_options={"sqlite_begin": _BEGIN_IMMEDIATE})


#: SQLite primary result codes that mean "another connection holds the lock".
_SQLITE_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED (extended codes keep these low bits)
#: Postgres SQLSTATEs of lock contention a retry resolves: deadlock, lock_not_available,
#: serialization_failure.
_PG_BUSY_STATES = {"40P01", "55P03", "40001"}


def is_database_busy(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) is lock contention, not a fault: SQLite's "database is
    locked" after busy_timeout, or a Postgres deadlock/lock timeout/serialization failure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in _SQLITE_BUSY_CODES:
            return True
        if getattr(current, "sqlstate", None) in _PG_BUSY_STATES:
            return True
        if type(current).__module__.startswith("sqlite3") and "is locked" in str(current):
            return True
        current = getattr(current, "orig", None) or current.__cause__
    return False


#: errno values that mean "cannot reach the database server" (refused, reset, unreachable,
#: timed out). Any other OSError — "file name too long" from a zone lookup, say — is a bug or
#: bad input, never an outage.
_CONNECTIVITY_ERRNOS = frozenset({
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT, errno.EPIPE,
    errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN, errno.ENOTCONN,
    errno.EADDRNOTAVAIL,
})

#: asyncpg errors raised when the server cannot be reached or dropped the connection.
_ASYNCPG_CONNECTIVITY = frozenset({
    "CannotConnectNowError", "ConnectionDoesNotExistError", "ConnectionFailureError",
    "AdminShutdownError", "CrashShutdownError", "TooManyConnectionsError",
    "ConnectionRejectionError", "PostgresConnectionError", "ClientCannotConnectError",
})


def is_db_unavailable(exc: BaseException) -> bool:
    """Whether an exception means "the database cannot be reached", as opposed to a bug.

    Covers refused/closed connections, connect timeouts and SQLAlchemy's wrappers of them. A
    statement the database refuses (bad data such as a NUL character, a constraint, a syntax
    error) is not an outage: callers turn outages into spooling or dry runs, so a false positive
    would silently turn a request that should have failed loudly into one that saves nothing.

    Lock contention (`is_database_busy`) is never "unreachable": the database is there and
    answers `503 database_busy`; a degraded path (spool, dry run) would lose the write.
    The one answer to "is the database away?" for every layer (generation, publishing, the
    spool drain, the worker's fenced writes).
    """
    if is_database_busy(exc):
        return False
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, AppError):
            # An answer already decided for the client (e.g. `spool_full` caused by ENOSPC):
            # not an outage, whatever OSError it was raised from.
            return False
        if isinstance(current, ConnectionError | TimeoutError | asyncio.TimeoutError):
            return True
        if isinstance(current, socket.gaierror | socket.herror):
            return True  # the database host name does not resolve (DNS away)
        if isinstance(current, OSError) and current.errno in _CONNECTIVITY_ERRNOS:
            return True
        if isinstance(current, FileNotFoundError) and current.filename is None:
            return True  # connecting to a Unix socket that is gone (the server is stopped)
        name = type(current).__name__
        module = type(current).__module__
        if module.startswith("asyncpg") and name in _ASYNCPG_CONNECTIVITY:
            return True
        if module.startswith("asyncpg") and name == "InterfaceError" \
                and "connection is closed" in str(current):
            return True
        if module.startswith("sqlalchemy") and getattr(current, "connection_invalidated", False):
            return True
        if module.startswith("sqlite3") and "unable to open" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def create_sessionmaker(engine: AsyncEngine, *,
                        write: bool = False) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit.

    `write=True`: every transaction of these sessions takes SQLite's write lock when it begins
    (see `writer`); the sessionmaker for every code path that writes. Reads keep the plain one,
    so they never queue behind writers (WAL lets them run beside the one writer).
    """
    return async_sessionmaker(writer(engine) if write else engine, expire_on_commit=False)
