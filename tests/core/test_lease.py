"""Leases: one holder at a time across processes, renewable, taken over once expired."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from postplan.core.lease import hold_lease, release_lease


async def test_one_holder_renewal_expiry_and_release(db_url: str) -> None:
    from postplan.core.db import create_engine

    engine: AsyncEngine = create_engine(db_url)
    try:
        assert await hold_lease(engine, "alerts", "a", ttl=0.5) is True
        assert await hold_lease(engine, "alerts", "b", ttl=0.5) is False  # a holds it
        assert await hold_lease(engine, "alerts", "a", ttl=0.5) is True  # renewal
        assert await hold_lease(engine, "prune", "b", ttl=5) is True  # another job's lease
        await asyncio.sleep(0.6)
        assert await hold_lease(engine, "alerts", "b", ttl=5) is True  # a stopped renewing
        assert await hold_lease(engine, "alerts", "a", ttl=5) is False
        await release_lease(engine, "alerts", "b")
        assert await hold_lease(engine, "alerts", "a", ttl=5) is True  # at once after release
    finally:
        await engine.dispose()
