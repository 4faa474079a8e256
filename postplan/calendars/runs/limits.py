"""Bounds on the generation work one user can cause (issue 12, item 6).

* Runs: at most `max_runs_per_user` runs `running` at once per user, counted in the database
  inside the transaction that creates the run (so the bound holds across processes; see
  `RunStore.create`). One more is refused with 429 `too_many_runs`.
* Streams: at most `max_streams_per_run` open event streams on one run and
  `max_streams_per_user` of one user, per process (a stream holds a connection and a task in the
  process that serves it). One more is refused with 429 `too_many_streams`.
* Abandonment: a run nobody streams, on any process, for `abandon_seconds` is cancelled (see
  `executor.RunExecutor`).
* Tails: a process reads a run executing elsewhere once per poll, for all of its streams,
  every `tail_poll_seconds`, backing off to `tail_poll_max_seconds` while nothing changes (see
  `tail`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass

from postplan.config import Settings
from postplan.core.errors import AppError

#: Suggested wait before starting another run: a planner run takes well under a second and a
#: model run a few seconds per entry, so a slot is likely free by then.
RUNS_RETRY_AFTER_SECONDS = 10
#: Suggested wait before opening another stream (a browser's own reconnect delay is 3 s).
STREAMS_RETRY_AFTER_SECONDS = 5


class TooManyRuns(AppError):
    """The user already has the most runs allowed running at once."""

    status_code = 429
    code = "too_many_runs"
    title = "Too many runs"


class TooManyStreams(AppError):
    """The user (or the run) already has the most event streams allowed open here."""

    status_code = 429
    code = "too_many_streams"
    title = "Too many streams"


@dataclass(frozen=True)
class RunLimits:
    """The configured bounds (defaults are the settings' defaults)."""

    abandon_seconds: float = 10.0
    max_runs_per_user: int = 3
    max_streams_per_run: int = 10
    max_streams_per_user: int = 20
    tail_poll_seconds: float = 0.25
    tail_poll_max_seconds: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RunLimits:
        """The limits a process was configured with."""
        return cls(
            abandon_seconds=settings.run_abandon_seconds,
            max_runs_per_user=settings.max_concurrent_runs_per_user,
            max_streams_per_run=settings.max_streams_per_run,
            max_streams_per_user=settings.max_streams_per_user,
            tail_poll_seconds=settings.run_tail_poll_seconds,
            tail_poll_max_seconds=max(settings.run_tail_poll_max_seconds,
                                      settings.run_tail_poll_seconds),
        )


@dataclass(frozen=True)
class RunLimit:
    """How many runs one user may have running at once, and when a `running` row no longer
    counts (its heartbeat is older than `stale_after`: its process died; the sweeper settles it)."""

    max_running: int
    stale_after: dt.timedelta


def too_many_runs(limit: int) -> TooManyRuns:
    """The 429 problem for one run too many."""
    return TooManyRuns(
        f"at most {limit} calendar generations may run at once; wait for one to finish",
        headers={"Retry-After": str(RUNS_RETRY_AFTER_SECONDS)},
        extra={"limit": limit},
    )


class StreamSlot:
    """One open stream's place in the counts; `release` is idempotent."""

    def __init__(self, slots: StreamSlots, user_id: str) -> None:
        self._slots = slots
        self.user_id = user_id
        self.run_id: uuid.UUID | None = None
        self._released = False

    def attach_run(self, run_id: uuid.UUID) -> None:
        """Count the stream against a run it did not know when it was taken (a new run)."""
        if self.run_id is None and not self._released:
            self.run_id = run_id
            self._slots.by_run[run_id] += 1

    def release(self) -> None:
        """Give the place back (the stream ended, or was never started)."""
        if self._released:
            return
        self._released = True
        self._slots.drop(self.user_id, self.run_id)


class StreamSlots:
    """Open event streams in this process, per user and per run."""

    def __init__(self, per_run: int, per_user: int) -> None:
        self.per_run = per_run
        self.per_user = per_user
        self.by_user: Counter[str] = Counter()
        self.by_run: Counter[uuid.UUID] = Counter()

    def take(self, user_id: str, run_id: uuid.UUID | None = None) -> StreamSlot:
        """A place for one more stream, or 429 `too_many_streams`."""
        if self.by_user[user_id] >= self.per_user:
            raise self._refuse(f"at most {self.per_user} event streams may be open at once "
                               "per user", self.per_user)
        if run_id is not None and self.by_run[run_id] >= self.per_run:
            raise self._refuse(f"at most {self.per_run} event streams may be open at once "
                               "on one run", self.per_run)
        self.by_user[user_id] += 1
        slot = StreamSlot(self, user_id)
        if run_id is not None:
            slot.attach_run(run_id)
        return slot

    def drop(self, user_id: str, run_id: uuid.UUID | None) -> None:
        """Forget one stream (Counter entries at zero are removed, so ids do not pile up)."""
        self.by_user[user_id] -= 1
        if self.by_user[user_id] <= 0:
            del self.by_user[user_id]
        if run_id is not None:
            self.by_run[run_id] -= 1
            if self.by_run[run_id] <= 0:
                del self.by_run[run_id]

    @staticmethod
    def _refuse(detail: str, limit: int) -> TooManyStreams:
        return TooManyStreams(detail, headers={"Retry-After": str(STREAMS_RETRY_AFTER_SECONDS)},
                              extra={"limit": limit})
