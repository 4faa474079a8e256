"""The text/event-stream field parser the CLI commands share (`generate --base-url`, `smoke`).

It only splits lines into events; what an event's data means (strict JSON, or JSON with a text
fallback) stays with each command.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RawSseEvent:
    """One dispatched event: its name, its `data:` lines joined by newlines, its `id:`."""

    name: str
    data: str
    id: str | None


@dataclass(slots=True)
class SseLineParser:
    """Feed it one line at a time (without the line ending); a blank line dispatches an event.

    `event:`, `data:` (joined) and `id:` are read, comments (`:`) skipped, and an event with no
    data lines is dropped. Name and id go back to their defaults after every blank line.
    """

    _name: str = "message"
    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def feed(self, line: str) -> RawSseEvent | None:
        """Take one line; return the event a blank line completes, else None."""
        if line == "":
            event = (RawSseEvent(self._name, "\n".join(self._data), self._id)
                     if self._data else None)
            self._name, self._data, self._id = "message", [], None
            return event
        if line.startswith(":"):
            return None
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "event":
            self._name = value
        elif key == "data":
            self._data.append(value)
        elif key == "id":
            self._id = value
        return None
