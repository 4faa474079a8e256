"""Write deploy/grafana/dashboards/postplan.json: the seed's signals on one Grafana dashboard.

The panels are listed here, one line each, so a review reads queries instead of Grafana JSON;
tests/deploy/test_dashboard.py checks every query parses as PromQL (promtool) and names only
metrics a live `/metrics` exposes. Run `python scripts/gen_dashboard.py` after editing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "dashboards" / "postplan.json"
DATASOURCE = {"type": "prometheus", "uid": "postplan-prometheus"}

# (row, title, unit, [(legend, expr)], kind)
PANELS: list[tuple[str, str, str, list[tuple[str, str]], str]] = [
    ("Generation streams (SSE)", "Streams finished by outcome", "ops", [
        ("{{outcome}}", 'sum by (outcome) (rate(postplan_sse_streams_total[5m]))')], "timeseries"),
    ("Generation streams (SSE)", "SSE error + timeout share (alert > 2 %)", "percentunit", [
        ("error+timeout", 'sum(rate(postplan_sse_streams_total{outcome=~"error|timeout"}[15m])) '
                          '/ clamp_min(sum(rate(postplan_sse_streams_total[15m])), 1e-9)')],
     "timeseries"),
    ("Generation streams (SSE)", "Open streams", "short", [
        ("open", "sum(postplan_sse_open_streams)")], "timeseries"),
    ("Publishing", "Publish failures by channel (15 min)", "short", [
        ("{{channel}}", 'sum by (channel) (increase(postplan_publish_results_total'
                        '{outcome=~"failed|unknown"}[15m]))')], "timeseries"),
    ("Publishing", "Publish failure share by channel (alert > 5 %)", "percentunit", [
        ("{{channel}}", 'sum by (channel) (rate(postplan_publish_results_total'
                        '{outcome=~"failed|unknown"}[15m])) / clamp_min(sum by (channel) '
                        '(rate(postplan_publish_results_total{outcome=~"published|failed|unknown|'
                        'needs_reauth|dry_run|dry_run_failed"}[15m])), 1e-9)')], "timeseries"),
    ("Publishing", "Publish results by channel and outcome", "ops", [
        ("{{channel}} {{outcome}}", "sum by (channel, outcome) "
                                    "(rate(postplan_publish_results_total[5m]))")], "timeseries"),
    ("Publishing", "Channel API calls by outcome", "ops", [
        ("{{channel}} {{outcome}}", "sum by (channel, outcome) "
                                    "(rate(postplan_publish_attempts_total[5m]))")], "timeseries"),
    ("Latency", "p95 latency by endpoint (alert > 2.5 s)", "s", [
        ("p95 {{endpoint}}", "histogram_quantile(0.95, sum by (le, endpoint) "
                             "(rate(postplan_request_duration_seconds_bucket[5m])))"),
        ("p50 {{endpoint}}", "histogram_quantile(0.5, sum by (le, endpoint) "
                             "(rate(postplan_request_duration_seconds_bucket[5m])))")],
     "timeseries"),
    ("Latency", "Requests by endpoint", "reqps", [
        ("{{endpoint}}", "sum by (endpoint) "
                         "(rate(postplan_request_duration_seconds_count[5m]))")], "timeseries"),
    ("Adapters", "Adapter auth / config missing (15 min)", "short", [
        ("{{channel}} {{reason}}", "sum by (channel, reason) "
                                   "(increase(postplan_adapter_auth_missing_total[15m]))")],
     "timeseries"),
    ("Adapters", "Adapter app credentials configured", "short", [
        ("{{channel}}", "min by (channel) (postplan_adapter_configured)")], "stat"),
    ("Spool", "Publish spool depth", "short", [
        ("depth", "sum(postplan_publish_spool_depth)")], "timeseries"),
    ("Spool", "Oldest spooled publish", "s", [
        ("oldest", "max(postplan_publish_spool_oldest_age_seconds)")], "timeseries"),
    ("Flags and alerts", "Flag can be on for someone", "short", [
        ("{{flag}}", "max by (flag) (postplan_flag_active)")], "stat"),
    ("Flags and alerts", "Flags file valid (0 = last good values in use)", "short", [
        ("valid", "min(postplan_flag_config_valid)")], "stat"),
    ("Flags and alerts", "Flags file reloads (1 h)", "short", [
        ("{{result}}", "sum by (result) (increase(postplan_flag_config_reloads_total[1h]))")],
     "timeseries"),
    ("Flags and alerts", "In-process alerts firing", "short", [
        ("{{alert}}", "max by (alert) (postplan_alerts_firing)")], "timeseries"),
    ("Flags and alerts", "Running builds (version, DEPLOY_ID)", "short", [
        ("{{version}} {{deploy_id}}", "count by (version, deploy_id) (postplan_build_info)")],
     "timeseries"),
]


def build() -> dict[str, Any]:
    """The dashboard document."""
    panels: list[dict[str, Any]] = []
    y = 0
    row_name = None
    x = 0
    for panel_id, (row, title, unit, targets, kind) in enumerate(PANELS, start=1):
        if row != row_name:
            if row_name is not None:
                y += 8
            panels.append({"type": "row", "title": row, "collapsed": False, "id": 1000 + panel_id,
                           "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
            y += 1
            row_name, x = row, 0
        elif x >= 24:
            x, y = 0, y + 8
        panels.append({
            "id": panel_id, "type": kind, "title": title, "datasource": DATASOURCE,
            "gridPos": {"h": 8, "w": 8, "x": x, "y": y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {},
            "targets": [{"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr,
                         "legendFormat": legend} for i, (legend, expr) in enumerate(targets)],
        })
        x += 8
    return {
        "uid": "postplan-overview", "title": "postplan", "tags": ["postplan"],
        "timezone": "utc", "schemaVersion": 39, "version": 1, "editable": False,
        "refresh": "30s", "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": [{
            "name": "Deploys", "datasource": DATASOURCE, "enable": True, "iconColor": "blue",
            "expr": "changes(postplan_process_start_time_seconds[2m]) > 0",
            "titleFormat": "process (re)started"}]},
        "panels": panels,
    }


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(build(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
