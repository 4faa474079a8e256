"""Pull complete JSON objects out of a model's answer while it is still being written.

The model is asked for a JSON array of objects; some models wrap it in a code fence, add prose,
or write one object per line instead. The scanner copes with all three: it tracks string and
bracket state character by character (each character is looked at once, so the cost is linear in
the answer) and hands back every object that is not nested inside another object the moment its
closing brace arrives. An object nested in another (for example `{"entries": [...]}`) is handed
back whole when the outer object closes, and the caller unwraps it.
"""

from __future__ import annotations

import json
from typing import Any


class ObjectScanner:
    """Feed text in any chunking; get back each top-level (or array-level) object as it closes."""

    def __init__(self, *, unwrap: bool = False) -> None:
        # Structured output wraps the array in `{"entries": [...]}` (a JSON schema's root must
        # be an object): with `unwrap`, everything before the first '[' is skipped, so each
        # entry is still handed back the moment it closes, not the whole answer at the end.
        self._unwrap = unwrap
        self._buf: list[str] = []
        self._stack: list[str] = []  # open brackets, '{' or '['
        self._in_string = False
        self._escape = False
        self._object_depth = 0  # how many '{' are open
        self._capturing = False
        self.skipped_chars = 0  # prose, fences and other text outside any object

    def feed(self, text: str) -> list[str]:
        """Consume `text`; return the raw text of every object completed by it, in order."""
        done: list[str] = []
        if self._unwrap:
            start = text.find("[")
            if start < 0:
                self.skipped_chars += len(text)
                return done
            self._unwrap = False
            self.skipped_chars += start + 1
            text = text[start + 1:]
        buf = self._buf
        for ch in text:
            if self._capturing:
                buf.append(ch)
            if self._in_string:
                if self._escape:
                    self._escape = False
                elif ch == "\\":
                    self._escape = True
                elif ch == '"':
                    self._in_string = False
                continue
            if ch == '"':
                if self._capturing:
                    self._in_string = True
                else:
                    self.skipped_chars += 1
                continue
            if ch == "{":
                if not self._capturing:
                    self._capturing = True
                    buf.append(ch)
                self._stack.append(ch)
                self._object_depth += 1
            elif ch == "[":
                self._stack.append(ch)
            elif ch == "}":
                if self._stack and self._stack[-1] == "{":
                    self._stack.pop()
                    self._object_depth -= 1
                    if self._object_depth == 0 and self._capturing:
                        done.append("".join(buf))
                        buf.clear()
                        self._capturing = False
                elif not self._capturing:
                    self.skipped_chars += 1
            elif ch == "]":
                if self._stack and self._stack[-1] == "[":
                    self._stack.pop()
                elif not self._capturing:
                    self.skipped_chars += 1
            elif not self._capturing and not ch.isspace() and ch != ",":
                self.skipped_chars += 1
        return done

    @property
    def pending(self) -> bool:
        """True while an object has started but not closed (a truncated answer ends this way)."""
        return self._capturing


def decode_objects(raw: str) -> list[dict[str, Any]] | None:
    """Decode one scanned object; unwrap `{"entries": [...]}`. None when it is not valid JSON."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    for key in ("entries", "items", "calendar", "posts"):
        inner = value.get(key)
        if isinstance(inner, list) and len(value) == 1:
            return [item for item in inner if isinstance(item, dict)]
    return [value]
