"""OpenAI-compatible chat completions, streamed over plain httpx (no SDK).

URL rule: `LLM_BASE_URL` is the server's API root. When its path already ends in a version
segment (`/v1`, `/api/v1`, `/openai/v2`…) `/chat/completions` is appended; otherwise
`/v1/chat/completions` is. So `https://api.openai.com`, `https://api.openai.com/v1` and
`http://127.0.0.1:11434/v1` all reach `…/v1/chat/completions`.

The planner fixes the slots; the model writes the copy as a JSON array. Each object is parsed out
of the stream and yielded the moment its closing brace arrives. Objects that are malformed, name
no (or an unknown) slot, or carry bad fields are repaired from the planner's copy (see `repair`).
At a normal end of the answer, slots the model never wrote are filled from the planner, in slot
order, so a completed run always has every planned entry.

Deadlines: `timeout_seconds` bounds the whole call (request, headers and every byte of the
answer); `stall_seconds` bounds the silence between two chunks. Either raises GenerationTimeout;
the entries already yielded stand. A run that stops (nobody listens any more, or the server shuts
down) cancels or closes this stream: the response and the client are closed at once, so the
model stops writing (and billing) for nobody. Provider failures raise GenerationError with one of:

* `ai_auth_failed` (401/403), `ai_rate_limited` (429), `ai_unavailable` (5xx, or an error object
  inside the stream), `ai_rejected` (other 4xx),
* `ai_connection_failed` (refused, DNS, TLS: nothing was received),
* `ai_connection_lost` (the connection dropped, or the stream ended with neither `[DONE]`
  nor a finish reason),
* `ai_bad_response` (not an event stream, undecodable chunks, or an answer with no entries).
"""

from __future__ import annotations

import asyncio
import codecs
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from postplan.core.logging import get_logger
from postplan.generation.base import GenerationError, GenerationTimeout
from postplan.generation.planner import count_slots, plan_slots
from postplan.generation.providers.extract import ObjectScanner, decode_objects
from postplan.generation.providers.prompt import build_messages
from postplan.generation.providers.repair import HookBook, repair_entry, slot_of
from postplan.generation.schemas import Brief, EntryDraft

log = get_logger(__name__)

#: Silence between chunks that counts as a stall (capped by the run's own timeout).
DEFAULT_STALL_SECONDS = 20.0
CONNECT_TIMEOUT_SECONDS = 5.0
_VERSION_SEGMENT = re.compile(r"/v\d+[a-z0-9]*$", re.IGNORECASE)
_ERROR_BODY_LIMIT = 2048


def completions_url(base_url: str) -> str:
    """The chat-completions endpoint for an API root (see the module docstring for the rule)."""
    base = base_url.rstrip("/")
    path = urlsplit(base).path
    if _VERSION_SEGMENT.search(path):
        return base + "/chat/completions"
    return base + "/v1/chat/completions"


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


class OpenAICompatibleGenerator:
    """A Generator (see `generation.base`) backed by an OpenAI-compatible server."""

    mode = "ai"

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        timeout_seconds: float,
        *,
        stall_seconds: float | None = None,
        temperature: float = 0.7,
    ) -> None:
        self.url = completions_url(base_url)
        self._api_key = api_key
        self.model = model
        self.timeout_seconds = timeout_seconds
        self.stall_seconds = min(stall_seconds or DEFAULT_STALL_SECONDS, timeout_seconds)
        self.temperature = temperature
        self.stats = AIStats()

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatibleGenerator(url={self.url!r}, model={self.model!r})"

    def expected_entries(self, brief: Brief) -> int:
        """Every planned slot gets an entry (from the model or, failing that, the planner)."""
        return count_slots(brief)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    async def stream(self, brief: Brief) -> AsyncIterator[EntryDraft]:
        """Yield one entry per slot, each as soon as the model has finished writing it."""
        slots = plan_slots(brief)
        self.stats = stats = AIStats()
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.timeout_seconds
        hooks = HookBook()
        by_index = {s.index: s for s in slots}
        pending = [s.index for s in slots]  # slots still without an entry, in slot order
        written: set[int] = set()

        def take(data: dict[str, Any] | None) -> EntryDraft | None:
            named = slot_of(data)
            if named is not None and named in written:
                stats.ignored += 1
                return None
            if named is None or named not in by_index:
                if not pending:
                    stats.ignored += 1
                    return None
                named = pending[0]
            pending.remove(named)
            written.add(named)
            draft, filled = repair_entry(brief, by_index[named], data, hooks)
            stats.fields_repaired += filled
            return draft

        body = {
            "model": self.model,
            "messages": build_messages(brief, slots),
            "stream": True,
            "temperature": self.temperature,
        }
        timeout = httpx.Timeout(self.timeout_seconds,
                                connect=min(CONNECT_TIMEOUT_SECONDS, self.timeout_seconds))
        log.info("generation.ai.request", model=self.model, slots=len(slots),
                 host=urlsplit(self.url).netloc)
        scanner = ObjectScanner()
        completed = False
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                request = client.build_request("POST", self.url, json=body,
                                               headers=self._headers())
                response = await self._within(deadline, client.send(request, stream=True))
                try:
                    await self._check_status(response, deadline)
                    ctype = response.headers.get("content-type", "").split(";")[0].strip()
                    if ctype == "application/json":
                        # A server that ignored stream=true: one whole completion.
                        raw = await self._within(deadline, response.aread())
                        content, stats.finish_reason = _whole_completion(raw)
                        for obj in scanner.feed(content):
                            for draft in self._decoded(obj, take, stats):
                                yield draft
                        completed = True
                    elif ctype != "text/event-stream":
                        raise GenerationError(
                            "ai_bad_response",
                            f"the AI server answered {ctype or 'without a content type'}, "
                            "not an event stream",
                        )
                    else:
                        async for delta in self._deltas(response, deadline, stats, started):
                            if delta is None:
                                completed = True
                                break
                            for obj in scanner.feed(delta):
                                for draft in self._decoded(obj, take, stats):
                                    yield draft
                finally:
                    await response.aclose()
        except (asyncio.CancelledError, GeneratorExit):
            # The run stopped (abandoned, or the server is shutting down): leaving this block
            # closed the response and the client, so the model stops writing for nobody.
            log.info("generation.ai.closed_early", objects=stats.objects,
                     durationMs=round((loop.time() - started) * 1000, 1))
            raise
        except httpx.ConnectError as exc:
            raise GenerationError("ai_connection_failed",
                                  f"could not connect to the AI server: {_short(exc)}") from exc
        except httpx.ConnectTimeout as exc:
            raise GenerationError("ai_connection_failed",
                                  "timed out connecting to the AI server") from exc
        except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError) as exc:
            raise GenerationError("ai_connection_lost",
                                  "the connection to the AI server dropped mid-answer") from exc
        except httpx.TimeoutException as exc:
            raise GenerationTimeout(
                f"the AI did not answer within {self.timeout_seconds:g} s") from exc
        except httpx.HTTPError as exc:
            raise GenerationError("ai_connection_failed",
                                  f"the AI request failed: {_short(exc)}") from exc
        if not completed:
            raise GenerationError("ai_connection_lost",
                                  "the AI server ended the stream before finishing the answer")
        if stats.objects == 0:
            raise GenerationError("ai_bad_response", "the AI answer contained no entries")
        # Normal end: the slots the model skipped get the planner's copy, in slot order.
        while pending:
            stats.slots_filled += 1
            filler = take({"slot": pending[0]})
            if filler is not None:
                yield filler
        log.info("generation.ai.finished", objects=stats.objects, malformed=stats.malformed,
                 fieldsRepaired=stats.fields_repaired, slotsFilled=stats.slots_filled,
                 ignored=stats.ignored, finishReason=stats.finish_reason,
                 durationMs=round((loop.time() - started) * 1000, 1))

    def _decoded(self, raw: str, take: Any, stats: AIStats) -> list[EntryDraft]:
        out: list[EntryDraft] = []
        objects = decode_objects(raw)
        if objects is None:
            stats.objects += 1
            stats.malformed += 1
            draft = take(None)
            if draft is not None:
                out.append(draft)
            return out
        for data in objects:
            stats.objects += 1
            draft = take(data)
            if draft is not None:
                out.append(draft)
        return out

    async def _within(self, deadline: float, awaitable: Any) -> Any:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise GenerationTimeout(f"the AI did not finish within {self.timeout_seconds:g} s")
        try:
            async with asyncio.timeout(remaining):
                return await awaitable
        except TimeoutError as exc:
            raise GenerationTimeout(
                f"the AI did not finish within {self.timeout_seconds:g} s") from exc

    async def _check_status(self, response: httpx.Response, deadline: float) -> None:
        status = response.status_code
        if status == 200:
            return
        detail = ""
        try:
            raw = await self._within(deadline, response.aread())
            detail = _error_message(raw[:_ERROR_BODY_LIMIT])
        except (GenerationError, httpx.HTTPError):
            pass
        suffix = f": {detail}" if detail else ""
        if status in (401, 403):
            raise GenerationError("ai_auth_failed",
                                  f"the AI server refused the credentials ({status}){suffix}")
        if status == 429:
            raise GenerationError("ai_rate_limited",
                                  f"the AI server is rate limiting requests (429){suffix}")
        if status >= 500:
            raise GenerationError("ai_unavailable", f"the AI server failed ({status}){suffix}")
        raise GenerationError("ai_rejected", f"the AI server rejected the request ({status})"
                              f"{suffix}")

    async def _deltas(
        self, response: httpx.Response, deadline: float, stats: AIStats, started: float
    ) -> AsyncIterator[str | None]:
        """Content deltas from the event stream; None once `[DONE]` arrives."""
        loop = asyncio.get_running_loop()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        chunks = response.aiter_raw()
        tail = ""
        while True:
            now = loop.time()
            remaining = deadline - now
            if remaining <= 0:
                raise GenerationTimeout(
                    f"the AI did not finish within {self.timeout_seconds:g} s")
            wait = min(remaining, self.stall_seconds)
            try:
                async with asyncio.timeout(wait):
                    chunk = await anext(chunks, None)
            except TimeoutError as exc:
                if wait < remaining:
                    raise GenerationTimeout(
                        f"the AI stalled: no data for {self.stall_seconds:g} s") from exc
                raise GenerationTimeout(
                    f"the AI did not finish within {self.timeout_seconds:g} s") from exc
            if chunk is None:
                # A clean end after a finish_reason is a whole answer even without [DONE].
                if stats.finish_reason is not None:
                    yield None
                return
            if stats.first_byte_ms is None:
                stats.first_byte_ms = round((loop.time() - started) * 1000, 1)
            tail += decoder.decode(chunk)
            *lines, tail = re.split(r"\r\n|\r|\n", tail)
            for line in lines:
                content = _sse_line(line, stats)
                if content is _DONE:
                    yield None
                    return
                if content:
                    yield str(content)


_DONE = object()


def _sse_line(line: str, stats: AIStats) -> object:
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
        return _DONE
    try:
        chunk = json.loads(value)
    except ValueError as exc:
        raise GenerationError("ai_bad_response",
                              "the AI server sent a chunk that is not JSON") from exc
    if not isinstance(chunk, dict):
        raise GenerationError("ai_bad_response", "the AI server sent an unexpected chunk")
    if "error" in chunk:
        message = _error_message(json.dumps(chunk).encode())
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


def _whole_completion(raw: bytes) -> tuple[str, str | None]:
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


def _error_message(raw: bytes) -> str:
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


def _short(exc: Exception) -> str:
    return (str(exc) or type(exc).__name__)[:200]
