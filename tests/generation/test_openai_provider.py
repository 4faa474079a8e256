"""The OpenAI-compatible provider on its own: URL rule, incremental parsing, repair, errors."""

from __future__ import annotations

import json
import time

import pytest
from fastapi import FastAPI

from postplan.generation.base import GenerationError, GenerationTimeout
from postplan.generation.planner import count_slots, plan_slots
from postplan.generation.providers.extract import ObjectScanner, decode_objects
from postplan.generation.providers.openai import OpenAICompatibleGenerator, completions_url
from postplan.generation.schemas import Brief, EntryDraft
from tests.fakes.llm_server import FakeLLMConfig, closed_port_url, fake_llm
from tests.fixtures.apps import live_server

pytestmark = pytest.mark.timeout(60)

BRIEF = Brief.model_validate({"brand": "Acme", "startDate": "2026-03-25", "days": 10,
                              "timezone": "Europe/Berlin", "channels": ["tiktok", "instagram"]})


@pytest.mark.parametrize(("base", "url"), [
    ("https://api.openai.com", "https://api.openai.com/v1/chat/completions"),
    ("https://api.openai.com/", "https://api.openai.com/v1/chat/completions"),
    ("https://api.openai.com/v1", "https://api.openai.com/v1/chat/completions"),
    ("http://127.0.0.1:11434/v1/", "http://127.0.0.1:11434/v1/chat/completions"),
    ("https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1/chat/completions"),
    ("https://example.com/proxy", "https://example.com/proxy/v1/chat/completions"),
])
def test_completions_url_rule(base: str, url: str) -> None:
    assert completions_url(base) == url


def test_scanner_finds_each_object_whatever_the_chunking() -> None:
    objects = [{"slot": 0, "hook": 'braces } { and "quotes" \\ and ] [', "tags": ["a", "b"]},
               {"slot": 1, "hook": "ünïcödé ✓ \u2028", "nested": {"deep": [1, {"x": "}"}]}}]
    text = "Sure! Here you go:\n```json\n[" + ",\n".join(json.dumps(o) for o in objects) + "]\n```"
    for size in (1, 2, 3, 7, 64, len(text)):
        scanner = ObjectScanner()
        found: list[str] = []
        for i in range(0, len(text), size):
            found += scanner.feed(text[i:i + size])
        assert [json.loads(f) for f in found] == objects, size
        assert not scanner.pending


def test_scanner_reports_an_object_only_when_it_closes() -> None:
    scanner = ObjectScanner()
    assert scanner.feed('[{"slot": 0, "hook": "a}') == []
    assert scanner.pending
    assert scanner.feed('"}') == ['{"slot": 0, "hook": "a}"}']


def test_decode_unwraps_and_rejects() -> None:
    assert decode_objects('{"entries": [{"slot": 1}, {"slot": 2}]}') == [{"slot": 1},
                                                                           {"slot": 2}]
    assert decode_objects('{"slot": 1, "hook" "x"}') is None


async def _collect(gen: OpenAICompatibleGenerator) -> tuple[list[EntryDraft], list[float]]:
    drafts: list[EntryDraft] = []
    times: list[float] = []
    async for draft in gen.stream(BRIEF):
        drafts.append(draft)
        times.append(time.perf_counter())
    return drafts, times


@pytest.mark.live
async def test_entries_are_yielded_as_each_object_closes() -> None:
    with fake_llm(FakeLLMConfig(entry_delay=0.1, piece=3)) as (fake, base_url):
        gen = OpenAICompatibleGenerator(base_url, "key", "m", 30)
        drafts, times = await _collect(gen)
        completed = list(fake.completed_at)
        body = fake.requests[0]
    slots = plan_slots(BRIEF)
    assert len(drafts) == count_slots(BRIEF) == len(slots)
    assert times[0] < completed[-1]
    before_next = sum(times[i] < completed[i + 1] for i in range(len(completed) - 1))
    assert before_next >= (len(completed) - 1) // 2
    for draft, slot in zip(drafts, slots, strict=True):
        assert (draft.channel, draft.format, draft.scheduled_at, draft.pillar) == (
            slot.channel, slot.format, slot.scheduled_at, slot.pillar)
    assert body["stream"] is True
    assert body["model"] == "m"
    assert gen.stats.fields_repaired == 0 and gen.stats.slots_filled == 0


@pytest.mark.live
async def test_stall_and_total_deadlines_are_distinct() -> None:
    with fake_llm(FakeLLMConfig(stall_after=2, stall_seconds=30)) as (_fake, base_url):
        gen = OpenAICompatibleGenerator(base_url, None, "m", 30, stall_seconds=0.5)
        got: list[EntryDraft] = []

        async def drain() -> None:
            async for draft in gen.stream(BRIEF):
                got.append(draft)

        with pytest.raises(GenerationTimeout, match="stalled"):
            await drain()
        assert len(got) == 2
    with fake_llm(FakeLLMConfig(entry_delay=0.2)) as (_fake, base_url):
        gen = OpenAICompatibleGenerator(base_url, None, "m", 0.7, stall_seconds=0.5)
        with pytest.raises(GenerationTimeout, match="within"):
            await _collect(gen)


@pytest.mark.live
async def test_a_whole_json_answer_is_accepted_when_the_server_ignores_stream() -> None:
    slots = plan_slots(BRIEF)
    answer = json.dumps([{"slot": s.index, "hook": f"Hook {s.index}", "caption": "c",
                          "hashtags": ["x"], "callToAction": "go", "assetNotes": "n"}
                         for s in slots])
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def whole() -> dict[str, object]:
        return {"choices": [{"message": {"content": answer}, "finish_reason": "stop"}]}

    with live_server(app) as server:
        drafts, _ = await _collect(OpenAICompatibleGenerator(server.url, None, "m", 10))
    assert [d.hook for d in drafts] == [f"Hook {s.index}" for s in slots]


@pytest.mark.live
@pytest.mark.parametrize(("config", "code"), [
    (FakeLLMConfig(status=401), "ai_auth_failed"),
    (FakeLLMConfig(status=403), "ai_auth_failed"),
    (FakeLLMConfig(status=429), "ai_rate_limited"),
    (FakeLLMConfig(status=502), "ai_unavailable"),
    (FakeLLMConfig(status=404), "ai_rejected"),
    (FakeLLMConfig(garbage="json"), "ai_bad_response"),
    (FakeLLMConfig(garbage="html"), "ai_bad_response"),
    (FakeLLMConfig(drop_after=1), "ai_connection_lost"),
    (FakeLLMConfig(end_after=2), "ai_connection_lost"),
])
async def test_provider_failures_map_to_codes(config: FakeLLMConfig, code: str) -> None:
    with fake_llm(config) as (fake, base_url):
        # One try: retries have their own tests (tests/generation/providers/).
        gen = OpenAICompatibleGenerator(base_url, "secret-key", "m", 10, max_attempts=1)
        with pytest.raises(GenerationError) as info:
            await _collect(gen)
        assert fake.calls == 1
    assert info.value.code == code
    assert "secret-key" not in info.value.message
    assert "secret-key" not in repr(gen)


@pytest.mark.live
async def test_a_finish_reason_without_done_is_a_whole_answer() -> None:
    with fake_llm(FakeLLMConfig(send_done=False)) as (_fake, base_url):
        drafts, _ = await _collect(OpenAICompatibleGenerator(base_url, None, "m", 10))
    assert len(drafts) == count_slots(BRIEF)


async def test_refused_connection() -> None:
    gen = OpenAICompatibleGenerator(closed_port_url(), None, "m", 5, max_attempts=1)
    with pytest.raises(GenerationError) as info:
        await _collect(gen)
    assert info.value.code == "ai_connection_failed"
