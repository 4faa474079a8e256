"""Copy quality through the shared runner: the means of `bench/quality.py`, one row each.

The planner is deterministic, so `--quick` measures the same briefs. The dedicated command
(`python -m bench.quality`) has the per-brief table and its own absolute-tolerance baseline.
"""

from __future__ import annotations

from typing import Any

from bench.helpers import row
from bench.quality import measure
from postplan.generation.scoring.quality import HIGHER_IS_BETTER


def run(quick: bool) -> list[dict[str, Any]]:
    """One row per metric: its mean over the fixed briefs."""
    mean = measure()["mean"]
    return [row(f"quality.{metric}", value, "ratio",
                better="higher" if HIGHER_IS_BETTER[metric] else "lower")
            for metric, value in mean.items()]
