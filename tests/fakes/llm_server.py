"""A fake OpenAI-compatible chat-completions server, served by real uvicorn on 127.0.0.1.

It answers the slots named in the prompt with one JSON object each, streamed as
`chat.completion.chunk` events split into small pieces (so objects cross chunk boundaries). Knobs
on `FakeLLMConfig` make it slow, stall, send garbage, fail with a status, drop the connection
mid-answer, corrupt or skip entries. It counts calls and records, on `time.perf_counter()`, the
moment each entry's closing brace was handed to the socket (benches compare with arrival times).
It also counts answers streamed to their end (`finished`) and answers whose client closed the
connection mid-answer (`closed_early`), and how many answers are being streamed (`streaming`).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from tests.fixtures.apps import LiveServer, free_port


@dataclass
class FakeLLMConfig:
    entry_delay: float = 0.0  # seconds each entry takes to finish (its last piece waits this)
    first_delay: float = 0.0  # before the first byte of the answer
    stall_after: int | None = None  # go silent after this many entries…
    stall_seconds: float = 60.0  # …for this long
    status: int = 200  # 401, 429, 500… answer with this status and an error body
    garbage: str | None = None  # "json": data lines that are not JSON; "html": an HTML page
    drop_after: int | None = None  # close the connection abruptly after this many entries
    malformed: set[int] = field(default_factory=set)  # slot indexes written as broken JSON
    skip: set[int] = field(default_factory=set)  # slot indexes never written
    bad_fields: set[int] = field(default_factory=set)  # slot indexes with wrong/over-limit fields
    duplicate_hooks: bool = False  # every entry uses the same hook
    prose: bool = False  # wrap the array in prose and a code fence
    send_done: bool = True  # end with `data: [DONE]`
    end_after: int | None = None  # end the body cleanly after this many entries (no finish)
    piece: int = 24  # characters per chunk
    fail_first: int = 0  # answer the first N calls with `fail_status` (then normally)…
    fail_status: int = 503
    retry_after: str | None = None  # …with this Retry-After header
    # response_format json_schema: None ignores it (like most servers), False refuses a request
    # carrying it (400 naming response_format), True answers `{"entries": [...]}` as asked.
    json_schema: bool | None = None


def _slots(body: dict[str, Any]) -> list[int]:
    text = " ".join(str(m.get("content", "")) for m in body.get("messages", [])
                    if m.get("role") == "user")
    return [int(n) for n in re.findall(r'"slot":\s*(\d+)', text)]


def _entry(slot: int, cfg: FakeLLMConfig) -> str:
    obj: dict[str, Any] = {
        "slot": slot,
        "hook": "Same hook every time" if cfg.duplicate_hooks else f"Fake hook number {slot}",
        "caption": f"Fake caption for slot {slot}, with a quote \" and a brace }} inside.",
        "hashtags": ["fake", f"slot{slot}", "#tagged"],
        "callToAction": "Follow for more",
        "assetNotes": f"Film something for slot {slot}",
    }
    if slot in cfg.bad_fields:
        obj["hook"] = "x" * 500
        obj["hashtags"] = "not a list"
        obj["caption"] = 42
        del obj["callToAction"]
    text = json.dumps(obj)
    if slot in cfg.malformed:
        text = text.replace('"hook":', '"hook" ', 1)
    return text


def _chunk(content: str, finish: str | None = None) -> str:
    data = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": "fake",
            "choices": [{"index": 0, "delta": {"content": content} if content else {},
                         "finish_reason": finish}]}
    return f"data: {json.dumps(data)}\n\n"


class FakeLLM:
    """The fake server's state and app."""

    def __init__(self, config: FakeLLMConfig | None = None) -> None:
        self.config = config or FakeLLMConfig()
        self.calls = 0
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: list[str | None] = []
        self.completed_at: list[float] = []  # perf_counter when each entry's last piece went out
        self.answer_done_at: float | None = None
        self.finished = 0  # answers streamed to their end
        self.closed_early = 0  # answers the client hung up on (the server saw the disconnect)
        self.streaming = 0  # answers being streamed now
        self.max_streaming = 0  # the most answers streamed at once
        self.call_times: list[float] = []  # perf_counter of each call's arrival
        self.app = self._build()

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> Response:
            body = await request.json()
            self.calls += 1
            self.requests.append(body)
            self.auth_headers.append(request.headers.get("authorization"))
            self.call_times.append(time.perf_counter())
            self.completed_at = []
            self.answer_done_at = None
            cfg = self.config
            if self.calls <= cfg.fail_first:
                headers = {"Retry-After": cfg.retry_after} if cfg.retry_after else {}
                return JSONResponse({"error": {"message": "fake: try again later",
                                               "type": "fake_error"}},
                                    status_code=cfg.fail_status, headers=headers)
            wrapped = False
            if "response_format" in body:
                if cfg.json_schema is False:
                    return JSONResponse({"error": {
                        "message": "Invalid parameter: 'response_format' of type 'json_schema' "
                                   "is not supported with this model", "type": "invalid_request",
                        "param": "response_format"}}, status_code=400)
                wrapped = cfg.json_schema is True
            if cfg.status != 200:
                return JSONResponse({"error": {"message": f"fake failure {cfg.status}",
                                               "type": "fake_error"}}, status_code=cfg.status)
            if cfg.garbage == "html":
                return PlainTextResponse("<html><body>502 Bad Gateway</body></html>",
                                         media_type="text/html")
            return StreamingResponse(self._counted(_slots(body), wrapped),
                                     media_type="text/event-stream")

        return app

    async def _counted(self, slots: list[int], wrapped: bool = False) -> AsyncIterator[str]:
        # Starlette cancels the body iterator when the client disconnects (ASGI < 2.4, which
        # uvicorn speaks), so a hang-up mid-answer arrives here as CancelledError.
        self.streaming += 1
        self.max_streaming = max(self.max_streaming, self.streaming)
        try:
            async for piece in self._answer(slots, wrapped):
                yield piece
            self.finished += 1
        except (asyncio.CancelledError, GeneratorExit):
            self.closed_early += 1
            raise
        finally:
            self.streaming -= 1

    async def _answer(self, slots: list[int], wrapped: bool = False) -> AsyncIterator[str]:
        cfg = self.config
        if cfg.first_delay:
            await asyncio.sleep(cfg.first_delay)
        if cfg.garbage == "json":
            yield "data: {this is not json\n\n"
            return
        if wrapped:
            yield _chunk('{"entries": [')
        else:
            yield _chunk("Here is your calendar:\n```json\n[" if cfg.prose else "[")
        written = 0
        for slot in slots:
            if slot in cfg.skip:
                continue
            if cfg.end_after is not None and written >= cfg.end_after:
                return
            if cfg.drop_after is not None and written >= cfg.drop_after:
                raise ConnectionResetError("fake: dropping the connection")
            if cfg.stall_after is not None and written >= cfg.stall_after:
                await asyncio.sleep(cfg.stall_seconds)
            text = ("," if written else "") + _entry(slot, cfg)
            pieces = [text[i:i + cfg.piece] for i in range(0, len(text), cfg.piece)]
            half = max(len(pieces) // 2, 1)
            for piece in pieces[:half]:
                yield _chunk(piece)
            if cfg.entry_delay:
                await asyncio.sleep(cfg.entry_delay)
            for piece in pieces[half:]:
                yield _chunk(piece)
            self.completed_at.append(time.perf_counter())
            written += 1
        if wrapped:
            yield _chunk("]}")
        else:
            yield _chunk("]\n```\nEnjoy!" if cfg.prose else "]")
        yield _chunk("", finish="stop")
        self.answer_done_at = time.perf_counter()
        if cfg.send_done:
            yield "data: [DONE]\n\n"


@contextmanager
def fake_llm(config: FakeLLMConfig | None = None) -> Iterator[tuple[FakeLLM, str]]:
    """Serve a FakeLLM on 127.0.0.1; yields it and its base URL (without /v1)."""
    fake = FakeLLM(config)
    server = LiveServer(fake.app)
    server.start()
    try:
        yield fake, server.url
    finally:
        server.stop()


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"
