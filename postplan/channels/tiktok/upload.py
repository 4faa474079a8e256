"""FILE_UPLOAD chunk planning per TikTok's Media Transfer Guide.

Rules: chunks are 5-64 MB, except the final chunk, which absorbs the remainder (up to 128 MB);
`total_chunk_count = floor(video_size / chunk_size)`; a video under 5 MB goes in one chunk with
`chunk_size == video_size`; a video over 64 MB must be multi-chunk; 1-1000 chunks, sent in order.
The guide does not say MB or MiB, so the defaults stay inside both readings.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Chunk", "ChunkPlan", "ChunkRules", "plan_chunks"]


@dataclass(frozen=True)
class ChunkRules:
    """Byte bounds; tests shrink them to exercise multi-chunk uploads with small files."""

    min_chunk: int = 5 * 1024 * 1024  # 5 MiB >= 5 MB
    max_chunk: int = 64_000_000  # 64 MB <= 64 MiB
    max_final_chunk: int = 128_000_000
    preferred_chunk: int = 10_000_000
    max_chunks: int = 1000
    max_video_size: int = 4 * 1000**3


@dataclass(frozen=True)
class Chunk:
    """One PUT: inclusive byte range."""

    index: int
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def content_range(self, total: int) -> str:
        return f"bytes {self.first}-{self.last}/{total}"


@dataclass(frozen=True)
class ChunkPlan:
    """What init's `source_info` declares and the PUTs that follow."""

    video_size: int
    chunk_size: int
    total_chunk_count: int

    def chunks(self) -> list[Chunk]:
        out: list[Chunk] = []
        for i in range(self.total_chunk_count):
            first = i * self.chunk_size
            last = (
                self.video_size - 1 if i == self.total_chunk_count - 1
                else first + self.chunk_size - 1
            )
            out.append(Chunk(i, first, last))
        return out

    def source_info(self) -> dict[str, object]:
        return {
            "source": "FILE_UPLOAD",
            "video_size": self.video_size,
            "chunk_size": self.chunk_size,
            "total_chunk_count": self.total_chunk_count,
        }


def plan_chunks(video_size: int, rules: ChunkRules | None = None) -> ChunkPlan:
    """The chunk plan for a video of `video_size` bytes; ValueError when it cannot be uploaded."""
    r = rules or ChunkRules()
    if video_size <= 0:
        raise ValueError("the video is empty")
    if video_size > r.max_video_size:
        raise ValueError("the video is larger than TikTok's maximum size")
    if video_size <= r.max_chunk:
        # Small enough for a single chunk (and required to be single under min_chunk).
        return ChunkPlan(video_size, video_size, 1)
    chunk = max(r.min_chunk, min(r.preferred_chunk, r.max_chunk))
    count = video_size // chunk
    if count > r.max_chunks:
        chunk = -(-video_size // r.max_chunks)
        count = video_size // chunk
    final = video_size - (count - 1) * chunk
    if chunk > r.max_chunk or final > r.max_final_chunk:
        raise ValueError("the video cannot be split within TikTok's chunk limits")
    return ChunkPlan(video_size, chunk, count)
