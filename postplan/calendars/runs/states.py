"""The words of a generation run: its status and the mode that made it (stored as plain strings
in `calendar_runs.status` / `.mode`)."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    running = "running"
    completed = "completed"
    partial = "partial"
    failed = "failed"
    cancelled = "cancelled"


class RunMode(StrEnum):
    ai = "ai"
    planner = "planner"
    legacy = "legacy"
