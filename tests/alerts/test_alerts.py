"""In-process alert rules: each fires above its threshold and stays quiet below, over sliding
windows, and emits one `alert` log event per transition (docs/research.md, reliability §8
item 18)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from postplan.alerts import (
    AlertEngine,
    MetricsFeed,
    alerts_lifespan,
    histogram_quantile,
    replay,
)
from postplan.core.metrics import (
    ADAPTER_AUTH_MISSING,
    PUBLISH_RESULTS,
    REQUEST_LATENCY,
    SSE_STREAMS,
)
from tests.fixtures.apps import make_settings

T0 = 1_800_000_000.0


def firing(engine: AlertEngine, now: float, name: str) -> list[dict[str, str]]:
    return [dict(s.labels) for s in engine.evaluate(now) if s.alert == name and s.firing]


def sse(engine: AlertEngine, total: int, bad: int, start: float = T0) -> None:
    for i in range(total):
        engine.record_sse("error" if i < bad else "completed", start + i)


@pytest.mark.parametrize(("total", "bad", "fires"), [
    (100, 3, True),    # 3% > 2%
    (100, 1, False),   # 1%
    (100, 2, False),   # exactly 2% is not above
    (30, 15, False),   # 50% but under the 50-stream guard
    (50, 2, True),     # 4% at the guard
])
def test_sse_error_rate(total: int, bad: int, fires: bool) -> None:
    engine = AlertEngine(emit=False)
    sse(engine, total, bad)
    assert bool(firing(engine, T0 + 200, "PostplanSSEErrorRateHigh")) is fires


def test_sse_timeouts_count_and_window_slides() -> None:
    engine = AlertEngine(emit=False)
    for i in range(97):
        engine.record_sse("completed", T0 + i)
    for i in range(3):
        engine.record_sse("timeout", T0 + i)
    assert firing(engine, T0 + 300, "PostplanSSEErrorRateHigh")
    # 16 minutes later the bad streams left the 15-minute window.
    for i in range(100):
        engine.record_sse("completed", T0 + 960 + i)
    assert not firing(engine, T0 + 1100, "PostplanSSEErrorRateHigh")


@pytest.mark.parametrize(("failed", "fires"), [(6, True), (4, False), (5, False)])
def test_publish_failure_rate(failed: int, fires: bool) -> None:
    engine = AlertEngine(emit=False, deploy_time=T0 - 7200)
    for i in range(100):
        engine.record_publish("tiktok", "failed" if i < failed else "published", T0 + i)
    for i in range(100):
        engine.record_publish("instagram", "published", T0 + i)
    result = firing(engine, T0 + 200, "PostplanPublishFailureRateHigh")
    assert result == ([{"channel": "tiktok"}] if fires else [])
    assert not firing(engine, T0 + 200, "PostplanPublishFirstFailureAfterDeploy")


def test_publish_queued_results_are_not_in_the_denominator() -> None:
    engine = AlertEngine(emit=False, deploy_time=T0 - 7200)
    for i in range(20):
        engine.record_publish("tiktok", "published", T0 + i)
    engine.record_publish("tiktok", "failed", T0 + 30)
    engine.record_publish("tiktok", "failed", T0 + 31)
    for i in range(1000):
        engine.record_publish("tiktok", "queued", T0 + i / 10)
    assert firing(engine, T0 + 200, "PostplanPublishFailureRateHigh") == [{"channel": "tiktok"}]


def test_first_failure_after_deploy() -> None:
    engine = AlertEngine(emit=False, deploy_time=T0)
    engine.record_publish("instagram", "published", T0 + 60)
    assert not firing(engine, T0 + 1200, "PostplanPublishFirstFailureAfterDeploy")
    engine.record_publish("instagram", "failed", T0 + 1200)
    assert firing(engine, T0 + 1260, "PostplanPublishFirstFailureAfterDeploy") == [
        {"channel": "instagram"}]

    late = AlertEngine(emit=False, deploy_time=T0)
    late.record_publish("instagram", "failed", T0 + 7200)
    assert not firing(late, T0 + 7260, "PostplanPublishFirstFailureAfterDeploy")


def test_adapter_config_missing() -> None:
    engine = AlertEngine(emit=False)
    engine.adapter_configured = {"tiktok": False, "instagram": True}
    assert not firing(engine, T0, "PostplanAdapterConfigMissing")  # publishing off
    engine.publish_active = True
    assert firing(engine, T0, "PostplanAdapterConfigMissing") == [{"channel": "tiktok"}]

    event = AlertEngine(emit=False)
    event.record_auth_missing("instagram", "config_missing", T0)
    assert firing(event, T0 + 60, "PostplanAdapterConfigMissing") == [{"channel": "instagram"}]
    assert not firing(event, T0 + 400, "PostplanAdapterConfigMissing")


def test_channel_auth_missing_fires_and_resolves_with_log_events() -> None:
    engine = AlertEngine()
    with capture_logs() as logs:
        assert not firing(engine, T0, "PostplanChannelAuthMissing")
        engine.record_auth_missing("tiktok", "missing", T0 + 10)
        assert firing(engine, T0 + 20, "PostplanChannelAuthMissing") == [{"channel": "tiktok"}]
        firing(engine, T0 + 30, "PostplanChannelAuthMissing")  # still firing: no second event
        assert not firing(engine, T0 + 400, "PostplanChannelAuthMissing")
    alerts = [e for e in logs if e["event"] == "alert"]
    assert len(alerts) == 1
    assert alerts[0]["alert"] == "PostplanChannelAuthMissing"
    assert alerts[0]["value"] == 1
    assert alerts[0]["threshold"] == 0
    assert alerts[0]["channel"] == "tiktok"
    assert alerts[0]["status"] == "firing"
    resolved = [e for e in logs if e["event"] == "alert.resolved"]
    assert [e["alert"] for e in resolved] == ["PostplanChannelAuthMissing"]
    assert REGISTRY.get_sample_value("postplan_alerts_firing",
                                     {"alert": "PostplanChannelAuthMissing"}) == 0


def test_latency_p95() -> None:
    slow = AlertEngine(emit=False)
    for i in range(30):
        slow.record_latency("publish", 4.0, T0 + i)
        slow.record_latency("export", 0.2, T0 + i)
    states = {s.alert: s for s in slow.evaluate(T0 + 60)}
    assert states["PostplanPublishLatencyHigh"].firing
    assert states["PostplanPublishLatencyHigh"].value == pytest.approx(4.875)
    assert not states["PostplanExportLatencyHigh"].firing

    few = AlertEngine(emit=False)
    for i in range(10):
        few.record_latency("export", 9.0, T0 + i)
    assert not firing(few, T0 + 60, "PostplanExportLatencyHigh")


def test_histogram_quantile_matches_prometheus() -> None:
    # Same numbers as deploy/prometheus/alerts_test.yml: all requests in (2.5, 5] → 4.875.
    assert histogram_quantile(0.95, {2.5: 0, 5.0: 30, float("inf"): 0}) == pytest.approx(4.875)
    assert histogram_quantile(0.95, {2.5: 0, 10.0: 20}) == pytest.approx(9.625)
    assert histogram_quantile(0.5, {float("inf"): 3, 1.0: 1}) == 1.0


def test_metrics_feed_turns_counter_increases_into_observations() -> None:
    engine = AlertEngine(emit=False, deploy_time=T0 - 7200)
    feed = MetricsFeed(engine)  # baseline: whatever other tests already counted
    SSE_STREAMS.labels(outcome="completed").inc(95)
    SSE_STREAMS.labels(outcome="error").inc(5)
    PUBLISH_RESULTS.labels(channel="instagram", outcome="published").inc(18)
    PUBLISH_RESULTS.labels(channel="instagram", outcome="failed").inc(2)
    ADAPTER_AUTH_MISSING.labels(channel="tiktok", reason="invalid").inc()
    for _ in range(25):
        REQUEST_LATENCY.labels(endpoint="export").observe(3.0)
    feed.sample(T0)
    names = {s.alert for s in engine.evaluate(T0 + 1) if s.firing}
    assert names == {"PostplanSSEErrorRateHigh", "PostplanPublishFailureRateHigh",
                     "PostplanChannelAuthMissing", "PostplanExportLatencyHigh"}
    feed.sample(T0 + 2)  # no new increases: nothing double-counted
    states = {(s.alert, s.labels): s for s in engine.evaluate(T0 + 3)}
    assert states[("PostplanSSEErrorRateHigh", ())].value == pytest.approx(0.05)


def test_replay_over_log_records() -> None:
    records = [{"event": "app.started", "ts": "2027-01-01T00:00:00+00:00"}]
    records += [{"event": "sse.stream.finished", "status": "error" if i < 5 else "completed",
                 "ts": f"2027-01-01T00:{i // 60:02d}:{i % 60:02d}+00:00"} for i in range(100)]
    records += [{"event": "publish.result", "channel": "tiktok", "status": "failed",
                 "ts": "2027-01-01T00:05:00+00:00"}]
    fired = {a.alert: a for a in replay(records)}
    assert set(fired) == {"PostplanSSEErrorRateHigh", "PostplanPublishFirstFailureAfterDeploy"}
    assert fired["PostplanSSEErrorRateHigh"].peak == pytest.approx(0.1)  # 5/50 at stream 50


async def test_lifespan_hook_sets_adapter_gauges_and_logs_missing_config(tmp_path: Path) -> None:
    settings = make_settings("sqlite+aiosqlite:///" + str(tmp_path / "x.db"),
                             TIKTOK_CLIENT_KEY="k", TIKTOK_CLIENT_SECRET="s")
    app = FastAPI()
    app.state.settings = settings

    @asynccontextmanager
    async def run() -> AsyncIterator[None]:
        async with alerts_lifespan(app, interval=3600):
            yield

    with capture_logs() as logs:
        async with run():
            assert isinstance(app.state.alerts, AlertEngine)
    assert REGISTRY.get_sample_value("postplan_adapter_configured", {"channel": "tiktok"}) == 1
    assert REGISTRY.get_sample_value("postplan_adapter_configured",
                                     {"channel": "instagram"}) == 0
    missing = [e for e in logs if e["event"] == "adapter.config_missing"]
    assert [e["channel"] for e in missing] == ["instagram"]


def test_replay_understands_the_events_the_services_emit() -> None:
    """Event names as emitted by calendars/stream.py, publishing/worker/, service.py and
    connections.py (docs/alerts.md)."""
    base = "2027-01-01T00:00:{:02d}+00:00"
    records: list[dict[str, object]] = [{"event": "app.started", "ts": base.format(0)}]
    records += [{"event": "sse.stream_end", "kind": "generate", "outcome": "timeout",
                 "status": "partial", "ts": base.format(1)}] * 2
    records += [{"event": "sse.stream_end", "kind": "generate", "outcome": "completed",
                 "status": "completed", "ts": base.format(2)}] * 48
    records.append({"event": "publish.failed", "channel": "tiktok", "status": "failed",
                    "ts": base.format(3)})
    records.append({"event": "publish.recorded", "dryRun": True, "total": 40, "failed": 40,
                    "queued": 0, "status": "200", "ts": base.format(4)})
    records.append({"event": "adapter.auth_missing", "channel": "instagram",
                    "code": "channel_config_missing", "reason": "config_missing",
                    "ts": base.format(5)})
    fired = {(a.alert, a.labels) for a in replay(records)}
    assert fired == {
        ("PostplanSSEErrorRateHigh", ()),  # 2 timeouts of 50 = 4%
        ("PostplanPublishFirstFailureAfterDeploy", (("channel", "tiktok"),)),
        ("PostplanAdapterConfigMissing", (("channel", "instagram"),)),
        # 40 of 40 dry-run items failed their checks (the intake line has no channel).
        ("PostplanDryRunFailureRateHigh", (("channel", "any"),)),
    }
    clean = [r if r.get("event") != "publish.recorded" else {**r, "failed": 0} for r in records]
    assert ("PostplanDryRunFailureRateHigh", (("channel", "any"),)) not in {
        (a.alert, a.labels) for a in replay(clean)}
