"""The Grafana dashboard (deploy/grafana/dashboards/postplan.json): every query parses as PromQL
(promtool, one recording rule per query) and names only metrics a live `/metrics` exposes, and
the committed JSON is what scripts/gen_dashboard.py writes."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.tools import require_tool
from tests.fixtures.apps import build_app, live_server, make_settings
from tests.fixtures.databases import sqlite_url

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "postplan.json"
METRIC = re.compile(r"\bpostplan_[a-z0-9_]+")


def queries() -> list[str]:
    """Every PromQL expression on the dashboard: panel targets and annotations."""
    document: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found = [t["expr"] for p in document["panels"] for t in p.get("targets", [])]
    found += [a["expr"] for a in document["annotations"]["list"] if "expr" in a]
    return found


def test_committed_dashboard_is_the_generated_one() -> None:
    spec = importlib.util.spec_from_file_location("gen_dashboard",
                                                  ROOT / "scripts" / "gen_dashboard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert json.loads(DASHBOARD.read_text(encoding="utf-8")) == module.build(), \
        "run python scripts/gen_dashboard.py"


def test_every_query_parses_as_promql(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    exprs = queries()
    assert len(exprs) >= 15
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(exprs)]}]}
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    # The check bites: a broken query is refused.
    rules["groups"][0]["rules"].append({"record": "dashboard:broken",
                                         "expr": "sum by (channel (postplan_x)"})
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    assert subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                          timeout=60).returncode != 0


@pytest.mark.live
def test_every_query_names_metrics_that_metrics_exposes(tmp_path: Path) -> None:
    app = build_app(make_settings(sqlite_url(tmp_path)))
    with live_server(app) as server:
        response = httpx.get(server.url + "/metrics")
    assert response.status_code == 200
    exposed = {line.split("{")[0].split(" ")[0] for line in response.text.splitlines()
               if line and not line.startswith("#")}
    missing: dict[str, list[str]] = {}
    for expr in queries():
        names = METRIC.findall(expr)
        assert names, f"query names no postplan metric: {expr}"
        for name in names:
            if name not in exposed:
                missing.setdefault(name, []).append(expr)
    assert not missing, missing
    # The seed's signals are all on it.
    text = "\n".join(queries())
    for signal in ("postplan_sse_streams_total", "postplan_publish_results_total",
                   "postplan_request_duration_seconds_bucket",
                   "postplan_adapter_auth_missing_total", "postplan_publish_spool_depth",
                   "postplan_flag_active"):
        assert signal in text, signal
