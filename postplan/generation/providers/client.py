"""What every model call in a process shares: one HTTP client, a bound on concurrent calls, and
the retry policy (docs/model-client.md).

* One `httpx.AsyncClient` per process (per event loop, to be exact: a client's connections belong
  to the loop that opened them), created on first use and closed by `close_shared_client` at
  shutdown (the run registry's lifespan calls it). Connections to the model server are reused
  across runs instead of a TLS handshake per calendar.
* `ModelSlots`: at most `LLM_MAX_CONCURRENCY` model calls at once in this process; the others
  wait in arrival order. A run that will wait says so in its `run` event (`queued: true`).
* `retry_delay`: how long to wait before trying again after a 429/5xx or a connection failure
  that happened before the first byte of the answer, honouring `Retry-After`.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from postplan.core.logging import get_logger
from postplan.core.metrics import AI_CALLS_WAITING
from postplan.generation.base import GenerationError

log = get_logger(__name__)

#: Tries per call (the first one included), all within the run's AI_TIMEOUT_SECONDS.
MAX_ATTEMPTS = 4
#: Backoff without a Retry-After: 0.5 s, 1 s, 2 s …
BACKOFF_BASE_SECONDS = 0.5
#: A Retry-After longer than this is not waited for (the error is reported instead).
RETRY_AFTER_MAX_SECONDS = 30.0
#: Idle keep-alive connections kept per process.
KEEPALIVE_CONNECTIONS = 20

_clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
_slots: dict[asyncio.AbstractEventLoop, ModelSlots] = {}


def shared_client() -> httpx.AsyncClient:
    """This process's client for model calls (created on first use, per event loop).

    Timeouts are set per request (each run has its own deadline), so the client has none."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        for other in [lp for lp in _clients if lp.is_closed()]:
            _clients.pop(other, None)  # a finished loop's client cannot be used or closed
        client = httpx.AsyncClient(
            timeout=None,
            limits=httpx.Limits(max_keepalive_connections=KEEPALIVE_CONNECTIONS),
        )
        _clients[loop] = client
    return client


async def close_shared_client() -> None:
    """Close this loop's client (at shutdown); the next call opens a new one."""
    loop = asyncio.get_running_loop()
    client = _clients.pop(loop, None)
    if client is not None:
        await client.aclose()


class ModelSlots:
    """A first-come, first-served bound on concurrent model calls in one event loop."""

    def __init__(self) -> None:
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    def would_wait(self, limit: int) -> bool:
        """True when a call starting now would queue behind others."""
        return self.active >= limit or self.waiting > 0

    @asynccontextmanager
    async def hold(self, limit: int) -> AsyncIterator[None]:
        """Hold one of `limit` slots for the body of the `async with`."""
        if self.active < limit and not self.waiting:
            self.active += 1
        else:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter  # the releasing call hands its slot over (active unchanged)
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._release()  # handed a slot just as we were cancelled: pass it on
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.active -= 1


def model_slots() -> ModelSlots:
    """This process's (this loop's) bound on concurrent model calls."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        for other in [lp for lp in _slots if lp.is_closed()]:
            _slots.pop(other, None)
        slots = _slots[loop] = ModelSlots()
    return slots


@asynccontextmanager
async def hold_model_slot(limit: int, wait_seconds: float) -> AsyncIterator[float]:
    """Hold one of `limit` model slots for the body; yields the seconds spent waiting.

    Waiting is bounded by `wait_seconds` (the run's AI_TIMEOUT_SECONDS): `ai_busy` after."""
    slots = model_slots()
    loop = asyncio.get_running_loop()
    started = loop.time()
    holder = slots.hold(limit)
    waits = slots.would_wait(limit)
    if waits:
        AI_CALLS_WAITING.inc()
    try:
        async with asyncio.timeout(wait_seconds):
            await holder.__aenter__()
    except TimeoutError as exc:
        raise GenerationError("ai_busy", f"no model slot came free within {wait_seconds:g} s "
                                         f"(LLM_MAX_CONCURRENCY={limit})") from exc
    finally:
        if waits:
            AI_CALLS_WAITING.dec()
    waited = loop.time() - started
    if waited >= 0.001:
        log.info("generation.ai.dequeued", queuedMs=round(waited * 1000, 1))
    try:
        yield waited
    finally:
        await holder.__aexit__(None, None, None)


def would_queue(limit: int) -> bool:
    """True when a model call started now would wait for a slot (False outside a loop)."""
    try:
        return model_slots().would_wait(limit)
    except RuntimeError:  # no running loop
        return False


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def retry_delay(attempt: int, retry_after: str | None) -> float | None:
    """Seconds to wait before try `attempt + 1` (attempt counts from 1); None: do not retry."""
    if attempt >= MAX_ATTEMPTS:
        return None
    told = retry_after_seconds(retry_after)
    if told is not None:
        return None if told > RETRY_AFTER_MAX_SECONDS else told
    return float(BACKOFF_BASE_SECONDS * 2.0 ** (attempt - 1))
