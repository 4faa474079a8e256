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

Sturdiness (docs/model-client.md): one shared HTTP client and one of `LLM_MAX_CONCURRENCY`
slots per call (`client`); 429/5xx/connection failures before the first byte are retried within
the deadline, honouring `Retry-After`; `structured` asks for `response_format: json_schema` and
in `auto` falls back (remembered per server) on a 400 naming it. Copy in the wrong language or
using an avoided word is replaced by the planner's (see `repair`).

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
* `ai_bad_response` (not an event stream, undecodable chunks, or an answer with no entries),
* `ai_busy` (no model slot came free within `timeout_seconds`).
"""

from __future__ import annotations

import asyncio
import codecs
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from postplan.core.logging import get_logger
from postplan.core.metrics import AI_RETRIES
from postplan.generation.base import GenerationError, GenerationTimeout
from postplan.generation.planner import Slot, count_slots, plan_slots
from postplan.generation.providers.client import (
    MAX_ATTEMPTS,
    hold_model_slot,
    retry_delay,
    shared_client,
    would_queue,
)
from postplan.generation.providers.extract import ObjectScanner, decode_objects
from postplan.generation.providers.prompt import build_messages, response_format
from postplan.generation.providers.repair import HookBook, repair_entry, slot_of
from postplan.generation.providers.wire import DONE as _DONE
from postplan.generation.providers.wire import AIStats
from postplan.generation.providers.wire import error_message as _error_message
from postplan.generation.providers.wire import short as _short
from postplan.generation.providers.wire import sse_line as _sse_line
from postplan.generation.providers.wire import status_error as _status_error
from postplan.generation.providers.wire import whole_completion as _whole_completion
from postplan.generation.schemas import Brief, EntryDraft

log = get_logger(__name__)

#: Silence between chunks that counts as a stall (capped by the run's own timeout).
DEFAULT_STALL_SECONDS = 20.0
CONNECT_TIMEOUT_SECONDS = 5.0
_VERSION_SEGMENT = re.compile(r"/v\d+[a-z0-9]*$", re.IGNORECASE)
_ERROR_BODY_LIMIT = 2048
DEFAULT_MAX_CONCURRENCY = 4
#: Servers (completion URLs) that refused `response_format` in this process (auto mode).
_NO_SCHEMA: set[str] = set()
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def completions_url(base_url: str) -> str:
    """The chat-completions endpoint for an API root (see the module docstring for the rule)."""
    base = base_url.rstrip("/")
    path = urlsplit(base).path
    if _VERSION_SEGMENT.search(path):
        return base + "/chat/completions"
    return base + "/v1/chat/completions"


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
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        structured: str = "auto",
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.url = completions_url(base_url)
        self._api_key = api_key
        self.model = model
        self.timeout_seconds = timeout_seconds
        self.stall_seconds = min(stall_seconds or DEFAULT_STALL_SECONDS, timeout_seconds)
        self.temperature = temperature
        self.max_concurrency = max_concurrency
        self.structured = structured  # auto | on | off
        self.max_attempts = max_attempts
        self.stats = AIStats()

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatibleGenerator(url={self.url!r}, model={self.model!r})"

    def expected_entries(self, brief: Brief) -> int:
        """Every planned slot gets an entry (from the model or, failing that, the planner)."""
        return count_slots(brief)

    def would_queue(self) -> bool:
        """True when a call started now would wait for a model slot (the `run` event says so)."""
        return would_queue(self.max_concurrency)

    def _use_schema(self) -> bool:
        if self.structured == "on":
            return True
        return self.structured == "auto" and self.url not in _NO_SCHEMA

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    async def stream(self, brief: Brief, *, slots: list[Slot] | None = None,
                     used_hooks: set[str] | None = None) -> AsyncIterator[EntryDraft]:
        """Yield one entry per slot, each as soon as the model has finished writing it.

        `slots` (regeneration) replaces the brief's own plan; `used_hooks` are never reused."""
        slots = plan_slots(brief) if slots is None else slots
        self.stats = stats = AIStats()
        loop = asyncio.get_running_loop()
        started = loop.time()
        hooks = HookBook()
        hooks.keys.update(used_hooks or ())
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

        messages = build_messages(brief, slots)
        timeout = httpx.Timeout(self.timeout_seconds,
                                connect=min(CONNECT_TIMEOUT_SECONDS, self.timeout_seconds))
        log.info("generation.ai.request", model=self.model, slots=len(slots),
                 host=urlsplit(self.url).netloc)
        completed = False
        try:
            async with hold_model_slot(self.max_concurrency, self.timeout_seconds) as waited:
                stats.queued_ms = round(waited * 1000, 1)
                # The run's deadline starts once the call may go out.
                deadline = loop.time() + self.timeout_seconds
                response, structured = await self._open(messages, timeout, deadline, stats)
                scanner = ObjectScanner(unwrap=structured)
                try:
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

    async def _open(self, messages: list[dict[str, str]], http_timeout: httpx.Timeout,
                    deadline: float, stats: AIStats) -> tuple[httpx.Response, bool]:
        """Send the request until a 200 arrives; (the response, whether it is structured).

        Retried (within the deadline): 429 and 5xx answers, and connection failures, all before
        any of the answer arrived. Never retried: other statuses, and anything after the first
        byte (entries already yielded cannot be taken back)."""
        loop = asyncio.get_running_loop()
        client = shared_client()
        structured = self._use_schema()
        attempt = 0
        while True:
            attempt += 1
            stats.attempts += 1
            body: dict[str, Any] = {"model": self.model, "messages": messages, "stream": True,
                                    "temperature": self.temperature}
            if structured:
                body["response_format"] = response_format()
            request = client.build_request("POST", self.url, json=body, headers=self._headers(),
                                           timeout=http_timeout)
            retry_after: str | None = None
            try:
                response = await self._within(deadline, client.send(request, stream=True))
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
                failure: BaseException = exc
            else:
                if response.status_code == 200:
                    stats.structured = structured
                    return response, structured
                detail = await self._error_detail(response, deadline)
                status = response.status_code
                if (status == 400 and structured and self.structured == "auto"
                        and ("response_format" in detail or "json_schema" in detail)):
                    # The server does not do structured output: the plain prompt and the
                    # streaming scanner, for this and every later call to it.
                    _NO_SCHEMA.add(self.url)
                    log.info("generation.ai.structured_unsupported",
                             host=urlsplit(self.url).netloc)
                    structured = False
                    attempt -= 1
                    continue
                failure = _status_error(status, detail)
                if status not in _RETRY_STATUSES:
                    raise failure
                retry_after = response.headers.get("retry-after")
            delay = retry_delay(attempt, retry_after) if attempt < self.max_attempts else None
            if delay is None or loop.time() + delay >= deadline:
                raise failure
            reason = getattr(failure, "code", "ai_connection_failed")
            AI_RETRIES.labels(code=reason).inc()
            log.info("generation.ai.retry", attempt=attempt, delayS=round(delay, 2), reason=reason)
            await asyncio.sleep(delay)

    async def _error_detail(self, response: httpx.Response, deadline: float) -> str:
        detail = ""
        try:
            raw = await self._within(deadline, response.aread())
            detail = _error_message(raw[:_ERROR_BODY_LIMIT])
        except (GenerationError, httpx.HTTPError):
            pass
        finally:
            await response.aclose()
        return detail

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
