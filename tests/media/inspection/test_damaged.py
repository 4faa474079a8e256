"""Damaged and hostile files: whatever the bytes, probe answers a Probe or an InspectionError
(never another exception, never a hang)."""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

import pytest

from postplan.media.inspection import InspectionError, Probe, probe
from tests.fixtures.media_files import MediaFiles


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares `width`×`height` and carries no pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


async def test_a_decompression_bomb_is_refused_unread(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(20_000, 20_000))  # 400 MP declared in 57 bytes
    with pytest.raises(InspectionError) as caught:
        await probe(bomb)
    assert caught.value.code == "media_corrupt"
    assert "million pixels" in caught.value.message


async def test_a_container_with_no_video_is_unsupported(media_files: MediaFiles) -> None:
    with pytest.raises(InspectionError) as caught:
        await probe(media_files.get("audio-only.mp4"))
    assert caught.value.code == "unsupported_media"


def _mutations(data: bytes, rng: random.Random, count: int) -> list[bytes]:
    out = []
    for n in range(count):
        if n % 2:
            out.append(data[: rng.randrange(16, len(data))])  # cut anywhere past the magic
        else:
            mutated = bytearray(data)
            for _ in range(8):  # overwrite a few runs past the first 16 bytes
                at = rng.randrange(16, len(data))
                mutated[at:at + 16] = rng.randbytes(16)
            out.append(bytes(mutated))
    return out


@pytest.mark.parametrize(("name", "count"), [
    ("photo.jpg", 8), ("logo.png", 8), ("photo.webp", 6), ("photo.heic", 4),
    ("good.mp4", 3), ("vp9.webm", 3),
])
async def test_mangled_files_never_crash(media_files: MediaFiles, tmp_path: Path, name: str,
                                         count: int) -> None:
    rng = random.Random(f"{name}-14")
    original = media_files.get(name).read_bytes()
    outcomes = []
    for n, data in enumerate(_mutations(original, rng, count)):
        path = tmp_path / f"{n}-{name}"
        path.write_bytes(data)
        try:
            result = await probe(path, timeout=20)
        except InspectionError as exc:
            outcomes.append(exc.code)
        else:
            assert isinstance(result, Probe) and result.width > 0 and result.height > 0
            outcomes.append("read")
    assert set(outcomes) <= {"read", "media_corrupt", "unsupported_media"}, outcomes
    # Every cut (half the cases) ends inside the data, so at least those are refused.
    assert outcomes.count("read") <= count - count // 2, outcomes
