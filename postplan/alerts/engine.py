"""The alert rules and the engine that evaluates them over sliding windows, emitting
`alert` / `alert.resolved` log events.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from postplan.alerts.log_records import SSE_END_EVENTS, as_number, latency_endpoint, parse_ts
from postplan.core.logging import get_logger
from postplan.core.metrics import (
    ALERTS_FIRING,
    CHANNELS,
    PUBLISH_OUTCOMES,
)

log = get_logger("postplan.alerts")


WINDOW_SECONDS = 15 * 60
SSE_BAD = frozenset({"error", "timeout"})
SSE_MIN_STREAMS = 50
SSE_MAX_RATIO = 0.02
PUBLISH_FAILED = frozenset({"failed", "unknown"})
#: Outcomes that end an entry's publish; `queued`/`retry` are not results yet.
PUBLISH_FINAL = frozenset({"published", "failed", "unknown", "needs_reauth", "dry_run",
                           "dry_run_failed"})
DRY_RUN_OUTCOMES = frozenset({"dry_run", "dry_run_failed"})
PUBLISH_MIN_RESULTS = 20
PUBLISH_MAX_RATIO = 0.05
FIRST_FAILURE_WINDOW = 10 * 60
DEPLOY_GRACE = 60 * 60
AUTH_WINDOW = 5 * 60
LATENCY_QUANTILE = 0.95
LATENCY_MAX_SECONDS = 2.5
LATENCY_MIN_REQUESTS = 20
LATENCY_BUCKETS: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True)
class AlertState:
    """One rule's evaluation for one label set."""

    alert: str
    labels: tuple[tuple[str, str], ...]
    value: float
    threshold: float
    firing: bool
    severity: str
    summary: str


@dataclass
class FiredAlert:
    """An alert seen firing while replaying a log (for `postplan alerts check`)."""

    alert: str
    labels: tuple[tuple[str, str], ...]
    first_at: float
    peak: float
    threshold: float
    severity: str
    summary: str


@dataclass
class _Series:
    points: deque[tuple[float, str, str, float]] = field(default_factory=deque)

    def add(self, ts: float, a: str, b: str, n: float) -> None:
        self.points.append((ts, a, b, n))

    def prune(self, older_than: float) -> None:
        while self.points and self.points[0][0] < older_than:
            self.points.popleft()

    def window(self, now: float, seconds: float) -> Iterable[tuple[float, str, str, float]]:
        start = now - seconds
        return (p for p in self.points if start < p[0] <= now)


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float:
    """Prometheus' `histogram_quantile` over non-cumulative bucket counts (linear interpolation
    inside the bucket; the +Inf bucket answers the highest finite bound)."""
    bounds = sorted(buckets)
    total = sum(buckets.values())
    if total <= 0:
        return math.nan
    rank = q * total
    cumulative = 0.0
    lower = 0.0
    for bound in bounds:
        count = buckets[bound]
        if cumulative + count >= rank:
            if math.isinf(bound):
                return lower
            if count == 0:
                return bound
            return lower + (bound - lower) * (rank - cumulative) / count
        cumulative += count
        lower = bound if not math.isinf(bound) else lower
    return lower


def bucket_of(seconds: float) -> float:
    """The histogram bucket upper bound a duration falls in."""
    for bound in LATENCY_BUCKETS:
        if seconds <= bound:
            return bound
    return math.inf


class AlertEngine:
    """Sliding-window evaluation of postplan's alert rules."""

    def __init__(self, *, deploy_time: float | None = None, emit: bool = True,
                 clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.emit = emit
        self.deploy_time = deploy_time
        self._sse = _Series()
        self._publish = _Series()
        self._auth = _Series()
        self._latency = _Series()
        self.adapter_configured: dict[str, bool] = {}
        self.publish_active = False
        self._firing: dict[tuple[str, tuple[tuple[str, str], ...]], AlertState] = {}

    # --- observations --------------------------------------------------------------------

    def record_sse(self, outcome: str, ts: float | None = None, n: float = 1) -> None:
        """A generation stream finished with `outcome` (see SSE_OUTCOMES)."""
        self._sse.add(self._ts(ts), outcome, "", n)

    def record_publish(self, channel: str, outcome: str, ts: float | None = None,
                       n: float = 1) -> None:
        """An entry's publish result on `channel` (see PUBLISH_OUTCOMES)."""
        self._publish.add(self._ts(ts), channel, outcome, n)

    def record_auth_missing(self, channel: str, reason: str, ts: float | None = None,
                            n: float = 1) -> None:
        """A publish refused for missing/invalid user auth, or missing app config."""
        self._auth.add(self._ts(ts), channel, reason, n)

    def record_latency(self, endpoint: str, seconds: float, ts: float | None = None) -> None:
        """One publish/export request's duration."""
        self._latency.add(self._ts(ts), endpoint, repr(bucket_of(seconds)), 1)

    def record_latency_bucket(self, endpoint: str, bound: float, n: float,
                              ts: float | None = None) -> None:
        """`n` requests in the histogram bucket ending at `bound` (from a metrics sample)."""
        self._latency.add(self._ts(ts), endpoint, repr(bound), n)

    def _ts(self, ts: float | None) -> float:
        return self.clock() if ts is None else ts

    # --- rules ---------------------------------------------------------------------------

    def evaluate(self, now: float | None = None) -> list[AlertState]:
        """Every rule's state at `now`; emits `alert` / `alert.resolved` on transitions."""
        now = self.clock() if now is None else now
        for series in (self._sse, self._publish, self._auth, self._latency):
            series.prune(now - max(WINDOW_SECONDS, DEPLOY_GRACE) - 60)
        states = [*self._sse_rule(now), *self._publish_rules(now), *self._adapter_rules(now),
                  *self._latency_rules(now)]
        self._transitions(states, now)
        return states

    def _sse_rule(self, now: float) -> list[AlertState]:
        total = bad = 0.0
        for _, outcome, _, n in self._sse.window(now, WINDOW_SECONDS):
            total += n
            bad += n if outcome in SSE_BAD else 0
        ratio = bad / total if total else 0.0
        return [AlertState("PostplanSSEErrorRateHigh", (), ratio, SSE_MAX_RATIO,
                           total >= SSE_MIN_STREAMS and ratio > SSE_MAX_RATIO, "page",
                           f"SSE error+timeout {ratio:.1%} of {total:.0f} streams over 15m")]

    def _publish_rules(self, now: float) -> list[AlertState]:
        states: list[AlertState] = []
        totals: dict[str, float] = dict.fromkeys(CHANNELS, 0.0)
        failed: dict[str, float] = dict.fromkeys(CHANNELS, 0.0)
        recent_failed: dict[str, float] = dict.fromkeys(CHANNELS, 0.0)
        dry_total: dict[str, float] = dict.fromkeys(CHANNELS, 0.0)
        dry_failed: dict[str, float] = dict.fromkeys(CHANNELS, 0.0)
        for ts, channel, outcome, n in self._publish.window(now, WINDOW_SECONDS):
            if outcome in DRY_RUN_OUTCOMES:
                dry_total[channel] = dry_total.get(channel, 0.0) + n
                if outcome == "dry_run_failed":
                    dry_failed[channel] = dry_failed.get(channel, 0.0) + n
            if outcome in PUBLISH_FINAL:
                totals[channel] = totals.get(channel, 0.0) + n
            if outcome in PUBLISH_FAILED:
                failed[channel] = failed.get(channel, 0.0) + n
                if ts > now - FIRST_FAILURE_WINDOW:
                    recent_failed[channel] = recent_failed.get(channel, 0.0) + n
        since_deploy = now - self.deploy_time if self.deploy_time is not None else math.inf
        for channel in sorted(totals.keys() | failed.keys()):
            total, bad = totals.get(channel, 0.0), failed.get(channel, 0.0)
            ratio = bad / total if total else 0.0
            labels = (("channel", channel),)
            states.append(AlertState(
                "PostplanPublishFailureRateHigh", labels, ratio, PUBLISH_MAX_RATIO,
                total >= PUBLISH_MIN_RESULTS and ratio > PUBLISH_MAX_RATIO, "page",
                f"{channel} publish failures {ratio:.1%} of {total:.0f} over 15m"))
            recent = recent_failed.get(channel, 0.0)
            states.append(AlertState(
                "PostplanPublishFirstFailureAfterDeploy", labels, recent, 0,
                recent > 0 and 0 <= since_deploy < DEPLOY_GRACE, "page",
                f"{channel}: {recent:.0f} publish failure(s) within the first hour after deploy"))
        for channel in sorted(dry_total):
            total, bad = dry_total[channel], dry_failed.get(channel, 0.0)
            ratio = bad / total if total else 0.0
            states.append(AlertState(
                "PostplanDryRunFailureRateHigh", (("channel", channel),), ratio,
                PUBLISH_MAX_RATIO, total >= PUBLISH_MIN_RESULTS and ratio > PUBLISH_MAX_RATIO,
                "warning", f"{channel} dry-run failures {ratio:.1%} of {total:.0f} over 15m"))
        return states

    def _adapter_rules(self, now: float) -> list[AlertState]:
        states: list[AlertState] = []
        config_events: dict[str, float] = {}
        auth_events: dict[str, float] = {}
        for _, channel, reason, n in self._auth.window(now, AUTH_WINDOW):
            target = config_events if reason == "config_missing" else auth_events
            target[channel] = target.get(channel, 0.0) + n
        for channel in sorted(set(CHANNELS) | config_events.keys() | auth_events.keys()):
            labels = (("channel", channel),)
            unconfigured = self.publish_active and self.adapter_configured.get(channel) is False
            events = config_events.get(channel, 0.0)
            states.append(AlertState(
                "PostplanAdapterConfigMissing", labels, events, 0,
                unconfigured or events > 0, "page",
                f"{channel}: app credentials missing while publishing is enabled"
                if unconfigured else f"{channel}: {events:.0f} config-missing event(s) in 5m"))
            auth = auth_events.get(channel, 0.0)
            states.append(AlertState(
                "PostplanChannelAuthMissing", labels, auth, 0, auth > 0, "ticket",
                f"{channel}: {auth:.0f} publish(es) refused for missing/invalid auth in 5m"))
        return states

    def _latency_rules(self, now: float) -> list[AlertState]:
        per_endpoint: dict[str, dict[float, float]] = {"publish": {}, "export": {}}
        for _, endpoint, bound, n in self._latency.window(now, WINDOW_SECONDS):
            # Every bound present (zeros too), as in Prometheus: interpolation starts at the
            # previous bucket's bound.
            buckets = per_endpoint.setdefault(endpoint, {})
            if not buckets:
                buckets.update(dict.fromkeys((*LATENCY_BUCKETS, math.inf), 0.0))
            key = float(bound)
            buckets[key] = buckets.get(key, 0.0) + n
        states = []
        for endpoint, name in (("publish", "PostplanPublishLatencyHigh"),
                               ("export", "PostplanExportLatencyHigh")):
            buckets = per_endpoint.get(endpoint, {})
            count = sum(buckets.values())
            p95 = histogram_quantile(LATENCY_QUANTILE, buckets) if count else 0.0
            states.append(AlertState(
                name, (("endpoint", endpoint),), p95, LATENCY_MAX_SECONDS,
                count >= LATENCY_MIN_REQUESTS and p95 > LATENCY_MAX_SECONDS, "ticket",
                f"{endpoint} p95 latency {p95:.2f}s over 15m ({count:.0f} requests)"))
        return states

    def _transitions(self, states: list[AlertState], now: float) -> None:
        firing_names: dict[str, int] = {}
        for state in states:
            key = (state.alert, state.labels)
            was = key in self._firing
            if state.firing:
                firing_names[state.alert] = firing_names.get(state.alert, 0) + 1
                self._firing[key] = state
                if not was and self.emit:
                    log.warning("alert", alert=state.alert, value=round(state.value, 6),
                                threshold=state.threshold, severity=state.severity,
                                summary=state.summary, labels=dict(state.labels),
                                status="firing", at=_iso(now),
                                **_channel_field(state.labels))
            elif was:
                del self._firing[key]
                if self.emit:
                    log.info("alert.resolved", alert=state.alert, value=round(state.value, 6),
                             threshold=state.threshold, labels=dict(state.labels),
                             status="resolved", at=_iso(now), **_channel_field(state.labels))
        if self.emit:
            for name in {s.alert for s in states}:
                ALERTS_FIRING.labels(alert=name).set(firing_names.get(name, 0))

    @property
    def firing(self) -> list[AlertState]:
        """Alerts firing as of the last evaluation."""
        return list(self._firing.values())

    # --- log records (offline replay) ----------------------------------------------------

    def observe_log_record(self, record: Mapping[str, Any]) -> float | None:
        """Feed one parsed log line; returns its timestamp if it had one. Event names consumed
        are listed in docs/alerts.md."""
        ts = parse_ts(record.get("ts") or record.get("timestamp"))
        event = str(record.get("event", ""))
        status = record.get("outcome") or record.get("status")
        channel = str(record.get("channel") or "any")
        if event == "app.started":
            self.deploy_time = ts
        elif event in SSE_END_EVENTS:
            if status:
                self.record_sse(str(status), ts)
        elif event.startswith("publish.") and event[len("publish."):] in PUBLISH_OUTCOMES:
            # The worker's per-entry result lines: publish.published, publish.failed, ...
            self.record_publish(channel, event[len("publish."):], ts)
        elif event == "publish.result":
            if status:
                self.record_publish(channel, str(status), ts)
        elif event == "publish.recorded":
            # Intake of POST /publish, one line per request: counted like the metric does.
            if record.get("dryRun"):
                failed = as_number(record.get("failed"))
                total = as_number(record.get("total"))
                self.record_publish(channel, "dry_run_failed", ts, failed)
                self.record_publish(channel, "dry_run", ts, max(total - failed, 0.0))
            else:
                self.record_publish(channel, "failed", ts, as_number(record.get("failed")))
                self.record_publish(channel, "queued", ts, as_number(record.get("queued")))
        elif event == "adapter.auth_missing":
            self.record_auth_missing(channel, str(record.get("reason") or "missing"), ts)
        elif event == "adapter.config_missing":
            if record.get("publishFlagActive"):
                self.record_auth_missing(channel, "config_missing", ts)
        elif event == "http.request":
            endpoint = latency_endpoint(str(record.get("method", "")), str(record.get("path")))
            duration = record.get("durationMs")
            if endpoint and isinstance(duration, int | float):
                self.record_latency(endpoint, float(duration) / 1000, ts)
        return ts


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat()


def _channel_field(labels: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {k: v for k, v in labels if k == "channel"}
