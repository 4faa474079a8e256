"""The live feed: sample postplan's Prometheus counters into the engine, and the lifespan
hook that does it every few seconds.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from postplan.alerts.engine import LATENCY_BUCKETS, AlertEngine
from postplan.core.lease import hold_lease, release_lease
from postplan.core.logging import get_logger
from postplan.core.metrics import (
    ADAPTER_CONFIGURED,
    CHANNELS,
    PUBLISH_OUTCOMES,
    SSE_OUTCOMES,
    registry,
)
from postplan.core.periodic import run_every

log = get_logger("postplan.alerts")


class MetricsFeed:
    """Turns increases of postplan's counters into engine observations."""

    def __init__(self, engine: AlertEngine) -> None:
        self.engine = engine
        self._last: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.sample(record=False)

    def _delta(self, name: str, labels: dict[str, str]) -> float:
        value = registry.get_sample_value(name, labels) or 0.0
        key = (name, tuple(sorted(labels.items())))
        previous = self._last.get(key, value)
        self._last[key] = value
        return value - previous if value >= previous else value  # a reset counts from zero

    def sample(self, now: float | None = None, *, record: bool = True) -> None:
        """Read the counters once; increases since the last sample become observations."""
        ts = self.engine.clock() if now is None else now
        sse_name = "postplan_sse_streams_total"
        for outcome in SSE_OUTCOMES:
            n = self._delta(sse_name, {"outcome": outcome})
            if record and n > 0:
                self.engine.record_sse(outcome, ts, n)
        for channel in CHANNELS:
            for outcome in PUBLISH_OUTCOMES:
                n = self._delta("postplan_publish_results_total",
                                {"channel": channel, "outcome": outcome})
                if record and n > 0:
                    self.engine.record_publish(channel, outcome, ts, n)
            for reason in ("missing", "invalid", "config_missing"):
                n = self._delta("postplan_adapter_auth_missing_total",
                                {"channel": channel, "reason": reason})
                if record and n > 0:
                    self.engine.record_auth_missing(channel, reason, ts, n)
            configured = registry.get_sample_value("postplan_adapter_configured",
                                                   {"channel": channel})
            self.engine.adapter_configured[channel] = bool(configured)
        active = registry.get_sample_value("postplan_flag_active",
                                           {"flag": "PUBLISH_SERVICE_ENABLED"})
        self.engine.publish_active = bool(active)
        for endpoint in ("publish", "export"):
            previous_cumulative = 0.0
            for bound in (*LATENCY_BUCKETS, math.inf):
                le = "+Inf" if math.isinf(bound) else _le(bound)
                cumulative = self._delta("postplan_request_duration_seconds_bucket",
                                         {"endpoint": endpoint, "le": le})
                in_bucket = cumulative - previous_cumulative
                previous_cumulative = cumulative
                if record and in_bucket > 0:
                    self.engine.record_latency_bucket(endpoint, bound, in_bucket, ts)


def _le(bound: float) -> str:
    # prometheus_client renders bucket bounds with Python's float repr ("0.5", "1.0", "10.0").
    return repr(float(bound))


@asynccontextmanager
async def alerts_lifespan(app: FastAPI, interval: float = 15.0) -> AsyncIterator[None]:
    """Lifespan hook: record adapter configuration, then sample metrics and evaluate the rules
    every `interval` seconds, logging `alert` events. The engine is `app.state.alerts`."""
    settings = app.state.settings
    # Set by the flag service at every reload: can PUBLISH_SERVICE_ENABLED be on for anyone?
    publish_active = bool(registry.get_sample_value("postplan_flag_active",
                                                    {"flag": "PUBLISH_SERVICE_ENABLED"}))
    for channel in CHANNELS:
        configured = bool(settings.adapter_configured(channel))
        ADAPTER_CONFIGURED.labels(channel=channel).set(1 if configured else 0)
        if not configured:
            log.warning("adapter.config_missing", channel=channel, status="config_missing",
                        publishFlagActive=publish_active,
                        detail=f"{channel} app credentials are not set; live publishing to "
                               f"{channel} will be refused")
    start = registry.get_sample_value("postplan_process_start_time_seconds") or time.time()
    engine = AlertEngine(deploy_time=start)
    feed = MetricsFeed(engine)
    app.state.alerts = engine
    app.state.alerts_feed = feed

    mode = settings.alerts_in_process
    app.state.alerts_leader = False
    if mode == "off":
        log.info("alerts.in_process_off", detail="Prometheus evaluates the alert rules")
        yield
        return
    leader = LeaderGate(app, interval) if mode == "leader" else None

    async def evaluate() -> None:
        feed.sample()  # cheap, and keeps the windows current for when this process leads
        leading = leader is None or await leader.holds()
        app.state.alerts_leader = leading
        if leading:
            engine.evaluate()

    try:
        # Evaluation must never take the app down: run_every logs a failed tick and carries on.
        async with run_every(interval, evaluate, name="postplan-alerts", log=log,
                             failure_event="alerts.evaluate_failed"):
            yield
    finally:
        if leader is not None:
            await leader.release()


class LeaderGate:
    """Whether this process evaluates the in-process alerts: the holder of the `alerts` lease
    (renewed every tick; held for 3 ticks, at least 5 s, so a slow tick does not hand it over;
    released at shutdown). On SQLite there is one process: it always leads."""

    NAME = "alerts"

    def __init__(self, app: FastAPI, interval: float) -> None:
        self._engine = getattr(app.state, "engine", None)
        self._ttl = max(3 * interval, 5.0)
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._held = False

    async def holds(self) -> bool:
        """Take or renew the lease; True while this process leads."""
        if self._engine is None or self._engine.dialect.name == "sqlite":
            return True
        held = await hold_lease(self._engine, self.NAME, self._holder, self._ttl)
        if held != self._held:
            log.info("alerts.leader" if held else "alerts.follower", holder=self._holder)
        self._held = held
        return held

    async def release(self) -> None:
        """Hand over at shutdown (another process leads from its next tick)."""
        if self._held and self._engine is not None:
            with contextlib.suppress(Exception):  # shutting down: the lease expires anyway
                await release_lease(self._engine, self.NAME, self._holder)
