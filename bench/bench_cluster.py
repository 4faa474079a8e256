"""Flags across a cluster: two `postplan serve` + two `postplan worker` processes on one Postgres.

Figure: seconds from a flag write (`postplan flags set`'s store call, the `flag_definitions` row)
until every process uses the new value — the servers by `GET /v1/flags`, the workers by their
`/metrics` (`postplan_flag_active`, set when a worker applies a reload). p95 over the flips
(target ≤ 2 s with the default FLAGS_POLL_SECONDS=1).

    .venv/bin/python -m bench.bench_cluster [--quick]
    .venv/bin/python -m bench.run --only cluster
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.bench_publish import Database
from bench.helpers import row
from bench.servers import free_port

POSTPLAN = str(Path(sys.executable).parent / "postplan")
SCRUB = {"CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED", "FLAGS_FILE", "LOG_FILE"}


def _doc(on: bool) -> str:
    return json.dumps({"flags": {"PUBLISH_SERVICE_ENABLED": {
        "state": "ENABLED", "variants": {"on": True, "off": False},
        "defaultVariant": "on" if on else "off"}}})


async def _write(url: str, on: bool) -> None:
    from postplan.core.db import create_engine
    from postplan.core.flagstore import read_stored, write

    engine = create_engine(url, pool_size=1)
    try:
        stored = await read_stored(engine)
        await write(engine, _doc(on), "bench", stored.revision if stored else None)
    finally:
        await engine.dispose()


def _server_value(client: httpx.Client, url: str) -> bool | None:
    try:
        body = client.get(url + "/v1/flags", headers={"X-User-Id": "bench"}).json()
    except httpx.HTTPError:
        return None
    return bool(body["flags"]["PUBLISH_SERVICE_ENABLED"]["enabled"])


def _worker_value(client: httpx.Client, url: str) -> bool | None:
    try:
        text = client.get(url + "/metrics").text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith('postplan_flag_active{flag="PUBLISH_SERVICE_ENABLED"}'):
            return float(line.rsplit(" ", 1)[1]) == 1.0
    return None


def _flip_times(db_url: str, flips: int) -> list[float]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    env.update({"DATABASE_URL": db_url, "WORKER_ENABLED": "false", "LOG_LEVEL": "WARNING",
                "TOKEN_ENCRYPTION_KEY": "bench-key",
                "SPOOL_DIR": f"/tmp/postplan-bench-cluster-{uuid.uuid4().hex[:6]}"})
    api_ports, worker_ports = [free_port(), free_port()], [free_port(), free_port()]
    procs = [subprocess.Popen([POSTPLAN, "serve", "--port", str(p), "--no-worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for p in api_ports]
    procs += [subprocess.Popen([POSTPLAN, "worker", "--metrics-port", str(p)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
              for p in worker_ports]
    probes = ([(_server_value, f"http://127.0.0.1:{p}") for p in api_ports]
              + [(_worker_value, f"http://127.0.0.1:{p}") for p in worker_ports])
    times: list[float] = []
    try:
        with httpx.Client(timeout=2) as client:
            asyncio.run(_write(db_url, False))
            deadline = time.monotonic() + 90
            while any(probe(client, url) is not False for probe, url in probes):
                if time.monotonic() > deadline:
                    raise RuntimeError("the cluster did not start")
                time.sleep(0.2)
            for i in range(flips):
                value = i % 2 == 0
                started = time.monotonic()
                asyncio.run(_write(db_url, value))
                pending = list(probes)
                while pending:
                    pending = [(p, u) for p, u in pending if p(client, u) is not value]
                    if time.monotonic() - started > 30:
                        raise RuntimeError("a process never saw the flip")
                    time.sleep(0.02)
                times.append(time.monotonic() - started)
                time.sleep(0.3)  # flips a poll apart would measure the poll phase only
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    return times


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run(quick: bool) -> list[dict[str, Any]]:
    """Flag flip visible in two API processes and two workers: p95 and median seconds."""
    with Database("postgres") as db:
        times = _flip_times(db.url, 6 if quick else 20)
    p95 = _p95(times)
    return [
        row("cluster.flag_flip_visible_everywhere_p95_s", p95, "s", target="<= 2 s",
            ok=p95 <= 2.0),
        row("cluster.flag_flip_visible_everywhere_median_s", statistics.median(times), "s"),
    ]


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        print(f"{r['name']}: {r['value']:.3f} {r['unit']} (target {r['target']})")
