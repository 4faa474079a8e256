"""Request-scoped FastAPI dependencies shared by every domain: the app's typed resources.

A handler never reads `request.app.state` itself: it names what it needs as a parameter typed
with one of these aliases (or a domain's own: `publishing.gateway.Gateway`,
`calendars.runs.registry.Runs`), and the one function behind the alias reads it from where
`create_app` and the lifespan hooks put it. Tests install their own resources at the same place.

One transaction style: a handler's database work runs in the request's session (`Session` to
read, `WriteSession` to write), committed by the dependency before the response is sent and
rolled back when the handler raises; handlers do not commit. Work that outlives the request
(runs, the worker, the spool drain) opens its own sessions from `create_sessionmaker(engine,
write=True)` or `core.db.begin_write`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from postplan.config import Settings


@asynccontextmanager
async def _committed(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session committed when the block ends, rolled back when it raises."""
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request for reading; committed when the handler returns."""
    async with _committed(request.app.state.sessionmaker) as session:
        yield session


async def get_write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request that writes: on SQLite its transaction takes the write lock at
    its first statement (`core.db.writer`), so reading before writing never fails with
    "database is locked" when another writer commits in between."""
    async with _committed(request.app.state.write_sessionmaker) as session:
        yield session


def app_settings(request: Request) -> Settings:
    """The settings the app was built with (`create_app`)."""
    settings: Settings = request.app.state.settings
    return settings


def app_engine(request: Request) -> AsyncEngine:
    """The app's database engine (opened by the lifespan)."""
    engine: AsyncEngine = request.app.state.engine
    return engine


def write_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """Sessions for a handler that runs more than one write transaction (each begins holding
    SQLite's write lock); a handler with one transaction takes `WriteSession` instead."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.write_sessionmaker
    return maker


# scope="function": commit before the response is sent, so a 2xx means the write is durable and a
# client reading right after its own write sees it (the default scope commits after sending).
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
#: The session of every endpoint that writes (read-only endpoints keep `Session`, so reads never
#: queue behind SQLite's one writer). tests/core/test_write_concurrency.py runs every write route
#: at once and fails on a write path left on `Session`.
WriteSession = Annotated[AsyncSession, Depends(get_write_session, scope="function")]
#: The app's settings.
AppSettings = Annotated[Settings, Depends(app_settings)]
#: The app's engine (readiness probes).
Engine = Annotated[AsyncEngine, Depends(app_engine)]
#: Write sessions to open per transaction (see `write_sessionmaker`).
WriteSessions = Annotated[async_sessionmaker[AsyncSession], Depends(write_sessionmaker)]
