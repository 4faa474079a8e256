"""The sturdier model client against the fake OpenAI-compatible server on loopback: retries
before the first byte (Retry-After honoured, within the deadline), structured output with its
fallback, the per-process bound on concurrent calls, and the language check on the answer."""

from __future__ import annotations

import asyncio
import time

import pytest

from postplan.generation.base import GenerationError
from postplan.generation.planner import count_slots
from postplan.generation.providers import openai as provider
from postplan.generation.providers.client import (
    ModelSlots,
    close_shared_client,
    retry_after_seconds,
    retry_delay,
    shared_client,
)
from postplan.generation.providers.extract import ObjectScanner
from postplan.generation.providers.openai import OpenAICompatibleGenerator
from postplan.generation.schemas import Brief, EntryDraft
from tests.fakes.llm_server import FakeLLMConfig, fake_llm

pytestmark = pytest.mark.timeout(60)

BRIEF = Brief.model_validate({"brand": "Acme", "startDate": "2026-03-25", "days": 4,
                              "timezone": "Europe/Berlin", "channels": ["tiktok", "instagram"]})
EXPECTED = count_slots(BRIEF)


async def _drain(gen: OpenAICompatibleGenerator, brief: Brief = BRIEF) -> list[EntryDraft]:
    return [d async for d in gen.stream(brief)]


def test_retry_policy() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None
    assert [retry_delay(a, None) for a in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, None]
    assert retry_delay(1, "2") == 2.0
    assert retry_delay(1, "120") is None  # longer than we would ever wait: report instead


def test_scanner_unwraps_a_structured_answer_entry_by_entry() -> None:
    scanner = ObjectScanner(unwrap=True)
    assert scanner.feed('{"entries": [{"slot": 0, "hook": "[x]"}') == [
        '{"slot": 0, "hook": "[x]"}']
    assert scanner.feed(', {"slot": 1}]}') == ['{"slot": 1}']


@pytest.mark.live
async def test_429_with_retry_after_is_tried_again_after_that_long() -> None:
    with fake_llm(FakeLLMConfig(fail_first=1, fail_status=429, retry_after="1")) as (fake, url):
        gen = OpenAICompatibleGenerator(url, None, "m", 10)
        drafts = await _drain(gen)
        gap = fake.call_times[1] - fake.call_times[0]
    assert fake.calls == 2 and gen.stats.attempts == 2
    assert len(drafts) == EXPECTED
    assert 0.9 <= gap < 3


@pytest.mark.live
async def test_503_then_ok_backs_off_and_succeeds() -> None:
    with fake_llm(FakeLLMConfig(fail_first=1, fail_status=503)) as (fake, url):
        drafts = await _drain(OpenAICompatibleGenerator(url, None, "m", 10))
    assert fake.calls == 2
    assert drafts[0].hook == "Fake hook number 0"


@pytest.mark.live
async def test_retries_stop_at_the_deadline_and_report_the_failure() -> None:
    with fake_llm(FakeLLMConfig(fail_first=99, fail_status=503, retry_after="2")) as (fake, url):
        started = time.perf_counter()
        with pytest.raises(GenerationError) as info:
            await _drain(OpenAICompatibleGenerator(url, None, "m", 1.5))
        elapsed = time.perf_counter() - started
    assert info.value.code == "ai_unavailable"
    assert fake.calls == 1  # a 2 s Retry-After does not fit a 1.5 s run
    assert elapsed < 1.0


@pytest.mark.live
async def test_structured_output_when_the_server_supports_it() -> None:
    with fake_llm(FakeLLMConfig(json_schema=True, entry_delay=0.05)) as (fake, url):
        gen = OpenAICompatibleGenerator(url, None, "m", 10, structured="on")
        times: list[float] = []
        drafts: list[EntryDraft] = []
        async for d in gen.stream(BRIEF):
            drafts.append(d)
            times.append(time.perf_counter())
        done_at = fake.answer_done_at
        body = fake.requests[0]
    assert body["response_format"]["type"] == "json_schema"
    assert gen.stats.structured and gen.stats.fields_repaired == 0
    assert [d.hook for d in drafts] == [f"Fake hook number {i}" for i in range(EXPECTED)]
    assert done_at is not None and times[0] < done_at  # streamed, not parsed at the end


@pytest.mark.live
async def test_auto_falls_back_when_response_format_is_refused_and_remembers() -> None:
    with fake_llm(FakeLLMConfig(json_schema=False)) as (fake, url):
        provider._NO_SCHEMA.discard(provider.completions_url(url))
        with pytest.raises(GenerationError) as info:
            await _drain(OpenAICompatibleGenerator(url, None, "m", 10, structured="on"))
        assert info.value.code == "ai_rejected" and "response_format" in info.value.message
        gen = OpenAICompatibleGenerator(url, None, "m", 10)  # auto
        assert len(await _drain(gen)) == EXPECTED
        assert not gen.stats.structured
        assert ["response_format" in b for b in fake.requests] == [True, True, False]
        await _drain(gen)  # the server's answer is remembered: no second 400
        assert ["response_format" in b for b in fake.requests][-1] is False
        assert fake.calls == 4


@pytest.mark.live
async def test_concurrent_calls_are_bounded_and_queued_calls_say_so() -> None:
    with fake_llm(FakeLLMConfig(entry_delay=0.05)) as (fake, url):
        first = OpenAICompatibleGenerator(url, None, "m", 10, max_concurrency=1)
        second = OpenAICompatibleGenerator(url, None, "m", 10, max_concurrency=1)
        assert not first.would_queue()
        task = asyncio.create_task(_drain(first))
        await asyncio.sleep(0.05)
        assert second.would_queue()
        got = await asyncio.gather(task, _drain(second))
    assert [len(g) for g in got] == [EXPECTED, EXPECTED]
    assert fake.max_streaming == 1
    assert second.stats.queued_ms > 50
    assert not second.would_queue()


async def test_model_slots_hand_over_in_order_and_survive_cancellation() -> None:
    slots = ModelSlots()
    order: list[str] = []

    async def call(name: str, hold: float) -> None:
        async with slots.hold(1):
            order.append(name)
            await asyncio.sleep(hold)

    a = asyncio.create_task(call("a", 0.05))
    await asyncio.sleep(0)
    b = asyncio.create_task(call("b", 0))
    c = asyncio.create_task(call("c", 0))
    await asyncio.sleep(0.01)
    b.cancel()
    await asyncio.gather(a, c, return_exceptions=True)
    assert order == ["a", "c"]
    assert slots.active == 0 and not slots.would_wait(1)


async def test_one_shared_client_per_process_closed_at_shutdown() -> None:
    client = shared_client()
    assert shared_client() is client
    await close_shared_client()
    assert client.is_closed
    assert shared_client() is not client
    await close_shared_client()


@pytest.mark.live
async def test_copy_in_the_wrong_language_is_replaced_by_the_planner() -> None:
    german = BRIEF.model_copy(update={"language": "de"})
    with fake_llm(FakeLLMConfig()) as (_fake, url):
        gen = OpenAICompatibleGenerator(url, None, "m", 10)
        drafts = await _drain(gen, german)
        prompt = _fake.requests[0]["messages"][1]["content"]
    assert "German (de)" in prompt
    assert len(drafts) == EXPECTED
    assert not any(d.hook.startswith("Fake hook") for d in drafts)  # English answer refused
    assert gen.stats.fields_repaired >= EXPECTED


@pytest.mark.live
async def test_slot_rewriter_asks_the_model_for_the_given_slots_only() -> None:
    from postplan.generation.planner import plan_slots
    from postplan.generation.providers.rewrite import SlotRewriter

    slots = plan_slots(BRIEF)[1:3]
    with fake_llm(FakeLLMConfig()) as (fake, url):
        rewriter = SlotRewriter(OpenAICompatibleGenerator(url, None, "m", 10), slots,
                                used_hooks={f"Fake hook number {slots[0].index}"})
        drafts = [d async for d in rewriter.stream(BRIEF)]
        prompt = fake.requests[0]["messages"][1]["content"]
    assert rewriter.mode == "ai" and rewriter.expected_entries(BRIEF) == 2
    assert "Slots (2)" in prompt
    assert [(d.channel, d.scheduled_at) for d in drafts] == [(s.channel, s.scheduled_at)
                                                             for s in slots]
    assert drafts[0].hook != f"Fake hook number {slots[0].index}"  # a used hook is not reused
    assert drafts[1].hook == f"Fake hook number {slots[1].index}"


@pytest.mark.live
async def test_the_brief_steers_the_prompt_and_avoided_words_never_reach_an_entry() -> None:
    brief = BRIEF.model_copy(update={
        "tone": "warm and witty", "avoid": ["fake"],
        "offers": None, "voice_samples": ["Cold brew season is back, friends."]})
    with fake_llm(FakeLLMConfig()) as (fake, url):
        gen = OpenAICompatibleGenerator(url, None, "m", 10)
        drafts = await _drain(gen, brief)
        prompt = fake.requests[0]["messages"][1]["content"]
    assert '"tone": "warm and witty"' in prompt and '"avoid": ["fake"]' in prompt
    assert "Cold brew season" in prompt
    for d in drafts:
        text = " ".join([d.hook, d.caption, d.call_to_action, d.asset_notes, *d.hashtags])
        assert "fake" not in text.casefold().split(), text
        assert "fake" not in [t.casefold() for t in d.hashtags]


async def test_no_model_slot_within_the_deadline_is_ai_busy() -> None:
    from postplan.generation.providers.client import hold_model_slot, model_slots

    async with hold_model_slot(1, 1) as waited:
        assert waited < 0.05
        with pytest.raises(GenerationError) as info:
            async with hold_model_slot(1, 0.1):
                pass
    assert info.value.code == "ai_busy"
    assert model_slots().active == 0 and not model_slots().would_wait(1)
