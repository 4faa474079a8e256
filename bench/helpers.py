"""Small helpers shared by bench modules (see bench/README.md for the row protocol)."""

from __future__ import annotations

import os
from typing import Any


def row(name: str, value: float, unit: str, *, baseline: float | None = None,
        target: str | None = None, better: str = "lower", ok: bool | None = None) -> dict[str, Any]:
    """One result row in the shared protocol."""
    ratio = (value / baseline) if baseline not in (None, 0) else None
    out: dict[str, Any] = {
        "name": name,
        "value": float(value),
        "unit": unit,
        "baseline": None if baseline is None else float(baseline),
        "ratio": None if ratio is None else round(float(ratio), 4),
        "target": target,
        "better": better,
    }
    if ok is not None:
        out["ok"] = bool(ok)
    return out


def rss_mib(pid: int | None = None) -> float:
    """Resident set size of a process in MiB, from /proc."""
    with open(f"/proc/{pid or os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0
