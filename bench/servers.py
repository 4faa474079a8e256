"""Start an ASGI app under uvicorn in a child process on 127.0.0.1 and wait until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def uvicorn_process(target: str, env: dict[str, str], probe: str = "/healthz",
                    factory: bool = True, root: Path = ROOT) -> Iterator[tuple[str, int]]:
    """(base_url, pid) of `uvicorn target` serving until the block ends.

    `root` is the checkout the server imports from (another one measures another version)."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
           "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "3"]
    if factory:
        cmd.append("--factory")
    full_env = {**os.environ, "PYTHONPATH": str(root), **env}
    # A file, not a pipe: a chatty server must never block on a full pipe buffer.
    errfile = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(cmd, cwd=root, env=full_env, stdout=subprocess.DEVNULL,
                            stderr=errfile)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                errfile.seek(0)
                err = errfile.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"{target} exited: {err}")
            try:
                if httpx.get(url + probe, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{target} did not start")
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        errfile.close()
