"""The provider's wire format: event-stream lines, whole completions, error bodies and the
status → error-code mapping (see `openai` for the codes), and the per-call `AIStats`."""

from __future__ import annotations

import json
from dataclasses import dataclass

from postplan.generation.base import GenerationError


@dataclass
class AIStats:
    """What happened in one call; logged at the end and read by tests and the bench."""

    objects: int = 0
    malformed: int = 0
    fields_repaired: int = 0
    slots_filled: int = 0
    ignored: int = 0
    finish_reason: str | None = None
    first_byte_ms: float | None = None
    attempts: int = 0
    queued_ms: float = 0.0
    structured: bool = False


DONE = object()


def sse_line(line: str, stats: AIStats) -> object:
    """One line of the provider's event stream → a content delta, _DONE, or None."""
    if not line or line.startswith(":"):
        return None
    field, sep, value = line.partition(":")
    if not sep:
        raise GenerationError("ai_bad_response", "the AI server sent a malformed event stream")
    if field in ("event", "id", "retry"):
        return None
    if field != "data":
        raise GenerationError("ai_bad_response", "the AI server sent a malformed event stream")
    value = value[1:] if value.startswith(" ") else value
    if value.strip() == "[DONE]":
        return DONE
    try:
        chunk = json.loads(value)
    except ValueError as exc:
        raise GenerationError("ai_bad_response",
                              "the AI server sent a chunk that is not JSON") from exc
    if not isinstance(chunk, dict):
        raise GenerationError("ai_bad_response", "the AI server sent an unexpected chunk")
    if "error" in chunk:
        message = error_message(json.dumps(chunk).encode())
        code = "ai_rate_limited" if "rate" in message.lower() else "ai_unavailable"
        raise GenerationError(code, f"the AI server reported an error: {message}")
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices:
        return None  # e.g. a usage-only chunk
    choice = choices[0]
    if not isinstance(choice, dict):
        return None
    if choice.get("finish_reason"):
        stats.finish_reason = str(choice["finish_reason"])
    delta = choice.get("delta")
    if isinstance(delta, dict) and isinstance(delta.get("content"), str):
        return delta["content"]
    return None


def status_error(status: int, detail: str) -> GenerationError:
    suffix = f": {detail}" if detail else ""
    if status in (401, 403):
        return GenerationError("ai_auth_failed",
                               f"the AI server refused the credentials ({status}){suffix}")
    if status == 429:
        return GenerationError("ai_rate_limited",
                               f"the AI server is rate limiting requests (429){suffix}")
    if status >= 500:
        return GenerationError("ai_unavailable", f"the AI server failed ({status}){suffix}")
    return GenerationError("ai_rejected",
                           f"the AI server rejected the request ({status}){suffix}")


def whole_completion(raw: bytes) -> tuple[str, str | None]:
    try:
        data = json.loads(raw)
        choice = data["choices"][0]
        content = choice["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise GenerationError("ai_bad_response",
                              "the AI server's answer is not a chat completion") from exc
    if not isinstance(content, str):
        raise GenerationError("ai_bad_response", "the AI answer has no text content")
    reason = choice.get("finish_reason")
    return content, str(reason) if reason else None


def error_message(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:200]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("type") or "")[:200]
        return str(err)[:200]
    return ""


def short(exc: Exception) -> str:
    return (str(exc) or type(exc).__name__)[:200]
