"""Distribution arithmetic shared by the planner and the scorer."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any


def tv_distance(actual: Counter[Any], target: dict[Any, float]) -> float:
    """Total-variation distance between observed counts and target shares (0 = exact)."""
    n = sum(actual.values())
    if not n:
        return 0.0
    keys = set(actual) | set(target)
    return 0.5 * sum(abs(actual.get(k, 0) / n - target.get(k, 0.0)) for k in keys)


def ideal_tv_distance(target: dict[Any, float], n: int) -> float:
    """TV distance of the best integer split of n items (largest remainder)."""
    if n <= 0:
        return 0.0
    raw = {k: v * n for k, v in target.items()}
    counts = {k: math.floor(v) for k, v in raw.items()}
    order = sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)
    for k in order[: n - sum(counts.values())]:
        counts[k] += 1
    return tv_distance(Counter(counts), target)


def entropy(counts: Iterable[int]) -> float:
    """Shannon entropy (natural log) of a histogram."""
    values = [c for c in counts if c]
    n = sum(values)
    return -sum(c / n * math.log(c / n) for c in values) if n else 0.0
