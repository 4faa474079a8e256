"""Request-scoped FastAPI dependencies shared by every domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


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


# scope="function": commit before the response is sent, so a 2xx means the write is durable and a
# client reading right after its own write sees it (the default scope commits after sending).
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
#: The session of every endpoint that writes (read-only endpoints keep `Session`, so reads never
#: queue behind SQLite's one writer). tests/core/test_write_concurrency.py runs every write route
#: at once and fails on a write path left on `Session`.
WriteSession = Annotated[AsyncSession, Depends(get_write_session, scope="function")]
