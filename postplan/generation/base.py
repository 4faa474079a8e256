"""The generation edge: a Brief in, a stream of EntryDrafts out. No HTTP, no database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from postplan.generation.schemas import Brief, EntryDraft


class GenerationError(Exception):
    """A provider failed; `code` goes into the stream's `error` event."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class GenerationTimeout(GenerationError):
    """The run or a stall exceeded `AI_TIMEOUT_SECONDS`; entries so far are kept."""

    def __init__(self, message: str = "the AI ran out of time") -> None:
        super().__init__("ai_timeout", message)


class Generator(Protocol):
    """Anything that turns a brief into entries, yielding each as soon as it is complete."""

    mode: str  # "planner" or "ai"

    def expected_entries(self, brief: Brief) -> int:
        """How many entries this brief will produce (sent in the `run` event)."""
        ...

    def stream(self, brief: Brief) -> AsyncIterator[EntryDraft]:
        """Yield entries in `scheduledAt` order; raise GenerationError/GenerationTimeout."""
        ...
