"""Text measures every layer counts the same way."""

from __future__ import annotations

__all__ = ["utf16_len"]


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit TikTok's API counts titles and captions in: an
    emoji outside the BMP counts 2."""
    return len(text.encode("utf-16-le")) // 2
