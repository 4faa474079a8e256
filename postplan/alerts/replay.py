"""`postplan alerts check FILE`: replay a log through the rules and report what fired.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from postplan.alerts.engine import AlertEngine, FiredAlert


def replay(records: Iterable[Mapping[str, Any]]) -> list[FiredAlert]:
    """Evaluate the rules after every event of a log, in order; what fired, first and peak."""
    engine = AlertEngine(emit=False, clock=lambda: 0.0)
    fired: dict[tuple[str, tuple[tuple[str, str], ...]], FiredAlert] = {}
    last_ts: float | None = None
    for record in records:
        ts = engine.observe_log_record(record)
        if ts is None:
            continue
        last_ts = ts if last_ts is None else max(last_ts, ts)
        for state in engine.evaluate(last_ts):
            if not state.firing:
                continue
            key = (state.alert, state.labels)
            seen = fired.get(key)
            if seen is None:
                fired[key] = FiredAlert(state.alert, state.labels, last_ts, state.value,
                                        state.threshold, state.severity, state.summary)
            elif state.value > seen.peak:
                seen.peak, seen.summary = state.value, state.summary
    return list(fired.values())
