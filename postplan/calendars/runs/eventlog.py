"""The events of one run as this process knows them, fanned out to any number of streams.

A `RunLog` is written by one producer (the executor of a run running here, or the one database
tail of a run running elsewhere) and read by every stream of that run in this process: readers
never touch the database themselves. It also counts its readers, which is how a run learns that
nobody listens any more (abandonment) and how a tail learns it can stop.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import AsyncGenerator, Callable

from postplan.calendars.runs.events import RunEvent


class RunLog:
    """Entries so far, the final events once settled, a wake-up for readers, a reader count."""

    def __init__(self, on_idle: Callable[[], None] | None = None) -> None:
        self.entries: list[RunEvent] = []
        self._seqs: list[int] = []  # the seq of each entry, ascending
        self.final: list[RunEvent] | None = None
        self.status: str | None = None
        self._changed = asyncio.Event()
        #: Streams reading `events()` right now.
        self.listeners = 0
        #: `time.monotonic()` when the last reader left (or the log was made).
        self.idle_since = time.monotonic()
        self._heard = asyncio.Event()  # set while at least one stream reads
        self._quiet = asyncio.Event()  # set while none does
        self._quiet.set()
        self._on_idle = on_idle

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def publish(self, events: list[RunEvent]) -> None:
        """Append entry events (ascending seq) and wake the readers."""
        for event in events:
            self.entries.append(event)
            self._seqs.append(int(event.data["seq"]))
        self._notify()

    def finish(self, status: str | None, events: list[RunEvent]) -> None:
        """The closing events (`timeout`/`error`, `done`); readers end after them."""
        self.status = status
        self.final = events
        self._notify()

    @property
    def last_seq(self) -> int:
        return self._seqs[-1] if self._seqs else 0

    async def events(self, after_seq: int) -> AsyncGenerator[RunEvent, None]:
        """Entries after `after_seq`, then the final events; waits while the run goes on."""
        self._attach()
        try:
            last = after_seq
            while True:
                changed = self._changed  # taken before reading, so no wake-up is missed
                # Found by seq each time: a tail's log may still be empty when a reader joins.
                index = bisect.bisect_right(self._seqs, last)
                while index < len(self.entries):
                    yield self.entries[index]
                    last = self._seqs[index]
                    index += 1
                if self.final is not None:
                    for event in self.final:
                        yield event
                    return
                await changed.wait()
        finally:
            self._detach()

    def _attach(self) -> None:
        self.listeners += 1
        self._heard.set()
        self._quiet.clear()

    def _detach(self) -> None:
        self.listeners -= 1
        if self.listeners == 0:
            self._heard.clear()
            self._quiet.set()
            self.idle_since = time.monotonic()
            if self._on_idle is not None:
                self._on_idle()

    async def wait_heard(self, within: float) -> bool:
        """Wait up to `within` seconds for a reader; True when one is reading."""
        if self.listeners:
            return True
        try:
            async with asyncio.timeout(max(within, 0.0)):
                await self._heard.wait()
        except TimeoutError:
            return False
        return True

    async def wait_quiet(self) -> None:
        """Wait until no stream reads."""
        await self._quiet.wait()
