"""The alert rules of deploy/prometheus/alerts.yml, evaluated in-process over sliding windows.

Two feeds, one engine:
* live: `MetricsFeed` samples postplan's own Prometheus counters every few seconds and records
  their increases (so whoever increments a metric in core/metrics.py feeds the alerts too);
* offline: `observe_log_record` maps log events (docs/alerts.md lists the names) — used by
  `postplan alerts check FILE`.
A rule that starts firing emits one `alert` log event (alert, value, threshold, severity); when it
stops, `alert.resolved`.

Modules: `engine` (rules, AlertEngine), `log_records` (reading log lines), `replay`
(offline check), `feed` (live metrics feed, lifespan hook).
"""

from __future__ import annotations

from postplan.alerts.engine import (
    AlertEngine,
    AlertState,
    FiredAlert,
    bucket_of,
    histogram_quantile,
)
from postplan.alerts.feed import MetricsFeed, alerts_lifespan
from postplan.alerts.log_records import latency_endpoint, parse_ts
from postplan.alerts.replay import replay

__all__ = [
    "AlertEngine",
    "AlertState",
    "FiredAlert",
    "MetricsFeed",
    "alerts_lifespan",
    "bucket_of",
    "histogram_quantile",
    "latency_endpoint",
    "parse_ts",
    "replay",
]
