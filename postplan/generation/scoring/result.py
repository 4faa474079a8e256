"""What a check returns (`Check`), the whole verdict (`CalendarScore`), and the helpers every
check uses to collect problems and read entry times.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from postplan.generation.schemas import EntryDraft

MAX_PROBLEMS = 20  # details keep the first few problems of each check


@dataclass(frozen=True)
class Check:
    """One dimension's verdict."""

    name: str
    passed: bool
    score: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CalendarScore:
    """All checks; `passed` only when every check passed, `overall` the mean score."""

    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def overall(self) -> float:
        return sum(c.score for c in self.checks) / len(self.checks) if self.checks else 0.0

    @property
    def failed(self) -> list[str]:
        """Names of the checks that failed."""
        return [c.name for c in self.checks if not c.passed]

    def check(self, name: str) -> Check:
        """The check with this name (KeyError if there is none)."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (CLI, logs, benchmark output)."""
        return {
            "passed": self.passed,
            "overall": round(self.overall, 4),
            "checks": {
                c.name: {"passed": c.passed, "score": round(c.score, 4), **c.details}
                for c in self.checks
            },
        }


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.count = 0

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(message)


def make_check(name: str, problems: Problems, units: int, **metrics: Any) -> Check:
    score = 1.0 - min(1.0, problems.count / units) if units else 1.0
    return Check(name, problems.count == 0, score,
                 {"problems": problems.items, "problemCount": problems.count, **metrics})


def is_aware(e: EntryDraft) -> bool:
    return isinstance(e.scheduled_at, dt.datetime) and e.scheduled_at.utcoffset() is not None


def local_time(e: EntryDraft, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    # Via UTC: astimezone() to the datetime's own tzinfo returns it unchanged, gap times included.
    return e.scheduled_at.astimezone(dt.UTC).astimezone(zone)
