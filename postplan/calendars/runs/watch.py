"""When a run has been abandoned: nobody has listened to it, here or elsewhere, for a while.

A client that disconnects can resume within `RUN_ABANDON_SECONDS`: on this process it reads the
run's log (a listener of it); on another process that process's tail writes the run's
`listened_at` every third of that time. Once neither has happened for a whole window, generating
on would only cost model calls nobody reads, so the executor stops the run (`cancelled`, code
`run_abandoned`), keeping what was saved. Marks are compared with the previous look, not with
this machine's clock: the processes may sit on machines whose clocks differ. A run is thus
stopped between one and two windows after its last listener left.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable

from postplan.calendars.runs.eventlog import RunLog
from postplan.core.logging import get_logger

log = get_logger(__name__)

#: Reads a run's `listened_at` (None for a dry run: nothing is stored, nobody can resume it).
MarkReader = Callable[[uuid.UUID], Awaitable[dt.datetime | None]]


class RunAbandoned:
    """Put on the executor's queue when nobody has listened to the run for too long."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


async def wait_abandoned(log_: RunLog, run_id: uuid.UUID, grace: float,
                         marks: MarkReader | None) -> None:
    """Return once nobody has listened to the run for `grace` seconds, here or elsewhere."""
    remote_seen: dt.datetime | None = None
    while True:
        await log_.wait_quiet()
        remaining = log_.idle_since + grace - time.monotonic()
        if remaining > 0:
            await log_.wait_heard(remaining)
            continue
        if marks is not None:
            try:
                marked = await marks(run_id)
            except Exception as exc:  # cannot tell: keep going, look again later
                log.warning("generation.run.listener_check_failed",
                            errorType=type(exc).__name__)
                await log_.wait_heard(grace)
                continue
            if marked is not None and marked != remote_seen:
                remote_seen = marked  # someone elsewhere listened within the last window
                await log_.wait_heard(grace)
                continue
        return
