"""Media upload and serving (issue 14), over real HTTP against uvicorn child processes.

* Upload: one file of 1 GiB (quick: 256 MiB) through `POST /v1/media` (multipart, streamed),
  against copying the same file to the same disk with `cp` followed by `sync FILE` (the upload
  fsyncs before it answers, so the copy is made as durable). Target: upload throughput >= 0.70
  of the copy's. The server's RSS is sampled during the upload: growth < 64 MiB.
* Range serving: 16 ranged GETs of 16 MiB (quick: 8 of 8 MiB) of a stored file through
  `GET /v1/media/{id}/content` against Starlette's bare `FileResponse` serving the same file
  (bench/_bare_file_app.py). Target: >= 0.70 of the bare throughput.

    .venv/bin/python -m bench.bench_media [--quick]
    .venv/bin/python -m bench.run --only media
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.helpers import row, rss_mib
from bench.servers import uvicorn_process

USER = {"X-User-Id": "bench"}
BOUNDARY = b"benchBOUNDARYbenchBOUNDARY"
#: A PNG signature: the upload sniffs the first bytes (processing is off for the bench).
HEAD = b"\x89PNG\r\n\x1a\n" + b"\0" * 4088


def _make_file(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as out:
        out.write(HEAD)
        left = size - len(HEAD)
        while left > 0:
            out.write(block[:min(left, len(block))])
            left -= len(block)


def _body(path: Path) -> Iterator[bytes]:
    yield (b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; '
           b'filename="bench.png"\r\nContent-Type: image/png\r\n\r\n')
    with open(path, "rb") as src:
        while chunk := src.read(1 << 20):
            yield chunk
    yield b"\r\n--" + BOUNDARY + b"--\r\n"


def _copy_seconds(src: Path, folder: Path) -> float:
    dst = folder / "copy.bin"
    started = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    subprocess.run(["sync", str(dst)], check=True)
    seconds = time.perf_counter() - started
    dst.unlink()
    return seconds


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Peak:
    """Samples a process's RSS every 50 ms while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.05)

    def __enter__(self) -> _Peak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _ranges(client: httpx.Client, url: str, size: int, count: int, span: int,
            headers: dict[str, str]) -> float:
    """Seconds to fetch `count` ranges of `span` bytes spread over the file."""
    started = time.perf_counter()
    step = max((size - span) // max(count - 1, 1), 1)
    for i in range(count):
        start = min(i * step, size - span)
        with client.stream("GET", url, headers={**headers,
                                                "Range": f"bytes={start}-{start + span - 1}"}
                           ) as resp:
            got = sum(len(c) for c in resp.iter_raw(1 << 20))
        if resp.status_code != 206 or got != span:
            raise RuntimeError(f"range {i}: {resp.status_code}, {got} bytes")
    return time.perf_counter() - started


def bench(size: int, count: int, span: int) -> list[dict[str, Any]]:
    folder = Path(tempfile.mkdtemp(prefix="postplan-bench-media-", dir=os.environ.get(
        "BENCH_MEDIA_DIR")))
    try:
        src = folder / "source.bin"
        _make_file(src, size)
        copy_s = min(_copy_seconds(src, folder) for _ in range(2))
        env = {"DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'bench.db'}",
               "AUTH_MODE": "dev", "WORKER_ENABLED": "false", "LOG_LEVEL": "WARNING",
               "LOG_FILE": str(folder / "server.log"), "SPOOL_DIR": str(folder / "spool"),
               "MEDIA_DIR": str(folder / "media"), "MEDIA_PROCESSING_ENABLED": "false",
               "MEDIA_SIGNING_KEY": "bench"}
        with uvicorn_process("postplan.app:build_default_app", env) as (base, pid), \
                httpx.Client(base_url=base, timeout=600) as client:
            client.get("/v1/media", headers=USER).raise_for_status()  # warm up
            before = rss_mib(pid)
            cpu_before = _cpu_seconds(pid)
            with _Peak(pid) as peak:
                started = time.perf_counter()
                resp = client.post("/v1/media", content=_body(src), headers={
                    **USER, "Content-Type": "multipart/form-data; boundary=" + BOUNDARY.decode()})
                upload_s = time.perf_counter() - started
            cpu_per_gib = (_cpu_seconds(pid) - cpu_before) / (size / (1 << 30))
            if resp.status_code != 201:
                raise RuntimeError(f"upload: {resp.status_code} {resp.text[:300]}")
            media_id = resp.json()["id"]
            growth = max(peak.peak - before, 0.0)
            stored = folder / "media" / media_id / "original"
            ours = _ranges(client, f"/v1/media/{media_id}/content", size, count, span, USER)
        with uvicorn_process("bench._bare_file_app:app_factory",
                             {"BENCH_FILE": str(stored)}) as (bare_base, _bare_pid), \
                httpx.Client(base_url=bare_base, timeout=600) as bare:
            theirs = _ranges(bare, "/file", size, count, span, {})
        mib = size / (1 << 20)
        up, cp = mib / upload_s, mib / copy_s
        served, bare_rate = count * span / (1 << 20) / ours, count * span / (1 << 20) / theirs
        return [
            row("media.copy_mib_s", cp, "MiB/s", better="higher", target="(baseline)"),
            row("media.upload_mib_s", up, "MiB/s", baseline=cp, better="higher",
                target="ratio >= 0.70", ok=up / cp >= 0.70),
            # Load-independent: what the server spends per GiB (parse, hash, write syscalls).
            row("media.upload_cpu_s_per_gib", cpu_per_gib, "s", target="(info)"),
            row("media.upload_rss_growth_mib", growth, "MiB", target="< 64", ok=growth < 64),
            row("media.bare_range_mib_s", bare_rate, "MiB/s", better="higher",
                target="(baseline)"),
            row("media.range_mib_s", served, "MiB/s", baseline=bare_rate, better="higher",
                target="ratio >= 0.70", ok=served / bare_rate >= 0.70),
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(quick: bool) -> list[dict[str, Any]]:
    """Bench protocol entry point (bench/README.md)."""
    if quick:
        return bench(256 << 20, count=8, span=8 << 20)
    return bench(1 << 30, count=16, span=16 << 20)


if __name__ == "__main__":
    results = run("--quick" in sys.argv)
    print(f"{'figure':32} {'value':>10} {'baseline':>10} {'ratio':>8}  target")
    for r in results:
        verdict = {True: "ok", False: "MISSED", None: ""}[r.get("ok")]
        baseline = "" if r["baseline"] is None else f"{r['baseline']:10.1f}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:8.3f}"
        print(f"{r['name']:32} {r['value']:10.1f} {baseline:>10} {ratio:>8}  {r['target']} "
              f"{verdict}")
