"""The top-level box layout of an MP4/MOV: where the index (moov) sits and whether the file
is whole. Read from box headers only (a few seeks), never the media data."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BoxLayout", "box_layout"]

#: A file with more top-level boxes than this is not a camera's or an encoder's MP4.
_MAX_BOXES = 10_000


@dataclass(frozen=True)
class BoxLayout:
    """`faststart`: moov comes before mdat; `truncated`: a box runs past the end of the file
    (a cut-off upload); `has_moov`: the index exists at all."""

    faststart: bool
    truncated: bool
    has_moov: bool


def box_layout(path: Path) -> BoxLayout:
    """Walk the top-level boxes of `path` (an ISO base media file)."""
    size = path.stat().st_size
    order: list[bytes] = []
    truncated = False
    with path.open("rb") as fh:
        offset = 0
        while offset + 8 <= size and len(order) < _MAX_BOXES:
            fh.seek(offset)
            header = fh.read(16)
            length, kind = struct.unpack(">I4s", header[:8])
            if length == 1:  # 64-bit size follows the type
                if len(header) < 16:
                    truncated = True
                    break
                length = struct.unpack(">Q", header[8:16])[0]
            elif length == 0:  # the box runs to the end of the file
                length = size - offset
            if length < 8:
                truncated = True  # a box shorter than its header: damaged
                break
            order.append(kind)
            if offset + length > size:
                truncated = True
                break
            offset += length
    has_moov = b"moov" in order
    faststart = has_moov and (b"mdat" not in order
                              or order.index(b"moov") < order.index(b"mdat"))
    return BoxLayout(faststart=faststart, truncated=truncated, has_moov=has_moov)
