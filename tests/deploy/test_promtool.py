"""promtool: the alert rules are valid and their unit tests pass; a live /metrics passes
`promtool check metrics` (docs/research.md, reliability §8 item 18)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from postplan.core.metrics import ALERT_NAMES, PUBLISH_RESULTS, REQUEST_LATENCY, SSE_STREAMS
from tests.deploy.tools import require_tool
from tests.fixtures.apps import build_app, live_server, make_settings
from tests.fixtures.databases import sqlite_url

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), input=stdin, capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


def test_rules_are_valid() -> None:
    promtool = require_tool("promtool")
    result = run(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    promtool = require_tool("promtool")
    result = run(promtool, "test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_quiet() -> None:
    rules = yaml.safe_load(RULES.read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert names == set(ALERT_NAMES)  # the in-process engine knows the same alerts
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in tests:
        for check in case["alert_rule_test"]:
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    assert fired == names
    assert quiet == names


def test_promtool_catches_a_wrong_expectation(tmp_path: Path) -> None:
    """The unit tests really assert: flip one expectation and promtool must fail."""
    promtool = require_tool("promtool")
    broken = RULE_TESTS.read_text().replace(
        "SSE error+timeout rate 3% over 15m", "SSE error+timeout rate 4% over 15m")
    (tmp_path / "alerts.yml").write_text(RULES.read_text())
    (tmp_path / "alerts_test.yml").write_text(broken)
    result = run(promtool, "test", "rules", str(tmp_path / "alerts_test.yml"))
    assert result.returncode != 0


@pytest.mark.live
def test_live_metrics_pass_promtool_check(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    SSE_STREAMS.labels(outcome="completed").inc()
    PUBLISH_RESULTS.labels(channel="tiktok", outcome="failed").inc()
    REQUEST_LATENCY.labels(endpoint="export").observe(0.2)
    app = build_app(make_settings(sqlite_url(tmp_path)))
    with live_server(app) as server:
        response = httpx.get(server.url + "/metrics")
    assert response.status_code == 200
    text = response.text
    result = run(promtool, "check", "metrics", stdin=text)
    assert result.returncode == 0, result.stdout + result.stderr
    # Label sets exist at zero before anything happens, so a first failure is an increase.
    for series in ('postplan_publish_results_total{channel="instagram",outcome="failed"}',
                   'postplan_sse_streams_total{outcome="timeout"}',
                   'postplan_adapter_auth_missing_total{channel="tiktok",reason="config_missing"}',
                   'postplan_flag_config_valid', 'postplan_process_start_time_seconds',
                   'postplan_build_info{deploy_id='):
        assert series in text, series
