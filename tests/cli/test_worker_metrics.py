"""`postplan worker --metrics-port`: the worker's own counters (publish results, channel API
calls) are scrapeable, as deploy/prometheus/prometheus.yml expects."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.apps import free_port
from tests.fixtures.processes import stop

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.live
def test_worker_serves_its_metrics(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"FLAGS_FILE", "LOG_FILE"}}
    env.update({"PYTHONPATH": str(ROOT), "DEPLOY_ID": "worker-metrics-test",
                "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
                "SPOOL_DIR": str(tmp_path / "spool"), "LOG_FILE": str(tmp_path / "w.log")})
    proc = subprocess.Popen([sys.executable, "-m", "postplan.cli", "worker",
                             "--metrics-port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"worker exited with {proc.returncode}"
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "no /metrics from the worker"
                time.sleep(0.1)
    finally:
        stop(proc, timeout=20)
    assert response.status_code == 200
    assert 'postplan_publish_results_total{channel="tiktok",outcome="published"}' in response.text
    assert 'postplan_build_info{deploy_id="worker-metrics-test"' in response.text
    # The worker made the flags file beside its SQLite database, like `serve`.
    assert (tmp_path / "w.flags.json").is_file()
