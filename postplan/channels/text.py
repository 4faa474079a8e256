"""Text measures the platforms count by: hashtags and @-mentions (UTF-16 units: core.text)."""

from __future__ import annotations

import re

__all__ = ["as_int", "count_hashtags", "count_mentions"]

_HASHTAG = re.compile(r"(?<![\w#])#\w+", re.UNICODE)
_MENTION = re.compile(r"(?<![\w@])@[\w.]+", re.UNICODE)


def count_hashtags(text: str) -> int:
    """Number of `#tag` tokens in a caption."""
    return len(_HASHTAG.findall(text))


def count_mentions(text: str) -> int:
    """Number of `@user` tokens in a caption."""
    return len(_MENTION.findall(text))


def as_int(value: object, default: int | None = None) -> int | None:
    """An integer option as given, or `default` when it is not one (validation reports it)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return default
