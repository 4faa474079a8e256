"""A background task that runs a callback at a fixed interval for as long as a block runs.

Used by lifespan hooks (alert evaluation, flag-file polling): the task starts when the block is
entered and is cancelled and awaited when it exits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

import structlog


@asynccontextmanager
async def run_every(
    seconds: float, tick: Callable[[], Awaitable[None]], *, name: str,
    log: structlog.stdlib.BoundLogger, failure_event: str,
) -> AsyncIterator[None]:
    """Await `tick` every `seconds` (first after one interval) in a task called `name`.

    A tick that raises is logged as `failure_event` on the caller's `log` and the next one still
    runs: a failed tick must never stop the loop or take the app down.
    """

    async def loop() -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await tick()
            except Exception:  # see the docstring: one bad tick never ends the loop
                log.exception(failure_event)

    task = asyncio.create_task(loop(), name=name)
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
