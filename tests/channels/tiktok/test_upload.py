"""FILE_UPLOAD chunk math per the Media Transfer Guide."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postplan.channels.tiktok.upload import ChunkPlan, ChunkRules, plan_chunks

MB = 1_000_000
RULES = ChunkRules()


def test_guide_worked_example() -> None:
    plan = ChunkPlan(50_000_123, 10_000_000, 5)
    chunks = plan.chunks()
    assert len(chunks) == 5
    assert chunks[-1].content_range(plan.video_size) == "bytes 40000000-50000122/50000123"
    assert chunks[-1].size == 10_000_123
    assert chunks[0].content_range(plan.video_size) == "bytes 0-9999999/50000123"


def test_small_video_is_one_chunk_of_its_own_size() -> None:
    plan = plan_chunks(3 * MB)
    assert (plan.chunk_size, plan.total_chunk_count) == (3 * MB, 1)
    assert plan.source_info() == {"source": "FILE_UPLOAD", "video_size": 3 * MB,
                                  "chunk_size": 3 * MB, "total_chunk_count": 1}


def test_video_up_to_64mb_may_be_single_chunk() -> None:
    assert plan_chunks(64 * MB).total_chunk_count == 1


def test_large_video_is_split_and_last_chunk_absorbs_the_rest() -> None:
    plan = plan_chunks(205 * MB + 17)
    assert plan.chunk_size == 10 * MB
    assert plan.total_chunk_count == 20  # floor(205.000017 / 10)
    last = plan.chunks()[-1]
    assert last.size == 15 * MB + 17
    assert last.last == plan.video_size - 1


def test_four_gigabytes_fits_in_400_chunks() -> None:
    plan = plan_chunks(4 * 1000**3)
    assert plan.total_chunk_count == 400


@pytest.mark.parametrize("size", [0, -1, 4 * 1000**3 + 1])
def test_unuploadable_sizes_raise(size: int) -> None:
    with pytest.raises(ValueError, match="video"):
        plan_chunks(size)


@given(st.integers(min_value=1, max_value=4 * 1000**3))
def test_every_plan_obeys_the_rules(size: int) -> None:
    plan = plan_chunks(size)
    chunks = plan.chunks()
    assert plan.total_chunk_count == size // plan.chunk_size
    assert 1 <= len(chunks) <= RULES.max_chunks
    assert chunks[0].first == 0 and chunks[-1].last == size - 1
    assert all(a.last + 1 == b.first for a, b in pairwise(chunks))
    if size < RULES.min_chunk:
        assert len(chunks) == 1 and plan.chunk_size == size
    if size > RULES.max_chunk:
        assert len(chunks) > 1
    for chunk in chunks[:-1]:
        assert RULES.min_chunk <= chunk.size <= RULES.max_chunk
    assert chunks[-1].size <= RULES.max_final_chunk


def test_shrunk_rules_for_tests() -> None:
    rules = ChunkRules(min_chunk=1000, max_chunk=4000, max_final_chunk=8000,
                       preferred_chunk=2000)
    plan = plan_chunks(10_500, rules)
    assert (plan.chunk_size, plan.total_chunk_count) == (2000, 5)
    assert plan.chunks()[-1].size == 2500
