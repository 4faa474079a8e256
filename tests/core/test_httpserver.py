"""Request heads are bounded in size and in time on a real `postplan serve` (TCP) and on a
Unix socket with the same server options (issue 12, item 6)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from postplan.core.httpserver import server_options
from tests.cli.serving import served
from tests.core import rawhttp
from tests.fixtures.apps import LiveServer, build_app, make_settings
from tests.fixtures.databases import sqlite_url

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]

HEAD_START = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def oversized_head(size: int) -> bytes:
    return HEAD_START + b"X-Big: " + b"a" * size + b"\r\n\r\n"


def assert_431(raw: bytes, limit: int) -> None:
    assert rawhttp.status_of(raw) == 431, raw[:200]
    body = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    assert body["code"] == "headers_too_large"
    assert str(limit) in body["detail"]


def stream_huge_header(sock: socket.socket, total: int) -> int:
    """Write a header of `total` bytes until the server stops taking it; bytes written."""
    sock.sendall(HEAD_START + b"X-Huge: ")
    chunk = b"a" * 65536
    sent = 0
    try:
        while sent < total:
            sock.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def trickle(sock: socket.socket, every: float, limit: float) -> float:
    """Send one header byte every `every` seconds until the server closes the connection (or
    `limit` seconds pass); the seconds it took."""
    started = time.monotonic()
    sock.sendall(HEAD_START + b"X-Slow: ")
    sock.settimeout(every)
    while time.monotonic() - started < limit:
        try:
            if sock.recv(65536) == b"":
                break  # closed by the server
        except TimeoutError:
            pass
        except ConnectionResetError:
            break
        try:
            sock.sendall(b"a")
        except (BrokenPipeError, ConnectionResetError):
            break
    return time.monotonic() - started


def test_serve_bounds_header_size_and_read_time(tmp_path: Path) -> None:
    limit = 16_384
    with served(tmp_path, MAX_HEADER_BYTES=str(limit),
                HEADER_READ_TIMEOUT_SECONDS="1") as (url, log_file, _):
        # Within the limit: served as usual.
        ok = httpx.get(url + "/healthz", headers={"Cookie": "c=" + "x" * (limit - 2048)})
        assert ok.status_code == 200

        # A complete head over the limit, delivered in one write: 431 problem, then close.
        with rawhttp.connect(url) as sock:
            sock.sendall(oversized_head(limit + 10))
            assert_431(rawhttp.read_response(sock), limit)

        # 64 MiB of header: refused after the first few reads, never buffered whole (what the
        # kernel's socket buffers hold is all that gets written).
        with rawhttp.connect(url, timeout=20) as sock:
            sent = stream_huge_header(sock, 64 * 1024 * 1024)
        print(f"64 MiB header: refused after {sent} bytes were written")
        assert sent < 16 * 1024 * 1024, f"the server read {sent} bytes of one header"

        # Slowloris: a byte every 0.2 s does not keep the connection; cut off after ~1 s.
        with rawhttp.connect(url) as sock:
            took = trickle(sock, every=0.2, limit=8)
        assert took < 4, f"a trickled header held the connection for {took:.1f}s"

        # A connection that sends nothing is closed too.
        with rawhttp.connect(url) as sock:
            started = time.monotonic()
            assert rawhttp.read_response(sock) == b""
            assert time.monotonic() - started < 4

        # Keep-alive: a served request, then the next head is bounded the same way.
        with rawhttp.connect(url) as sock:
            sock.sendall(HEAD_START + b"\r\n")
            first = rawhttp.read_one(sock)
            assert rawhttp.status_of(first) == 200
            sock.sendall(HEAD_START + b"X-Slow: a")
            started = time.monotonic()
            rest = rawhttp.read_response(sock)
            assert time.monotonic() - started < 4
            assert rawhttp.status_of(rest) == 408, rest[:200]

        # The server is still up and answering.
        assert httpx.get(url + "/healthz").status_code == 200
    events = [json.loads(line)["event"] for line in log_file.read_text().splitlines() if line]
    assert "http.headers_too_large" in events and "http.header_timeout" in events


@contextmanager
def unix_server(tmp_path: Path, **env: str) -> Iterator[str]:
    """The app under uvicorn on a Unix socket, with `server_options` as `serve` passes them."""
    settings = make_settings(sqlite_url(tmp_path), **env)
    path = str(tmp_path / "postplan.sock")
    server = LiveServer(build_app(settings), uds=path, **server_options(settings))
    server.start()
    try:
        yield path
    finally:
        server.stop()


def test_unix_socket_has_the_same_bounds(tmp_path: Path) -> None:
    limit = 8192
    with unix_server(tmp_path, MAX_HEADER_BYTES=str(limit),
                     HEADER_READ_TIMEOUT_SECONDS="0.5") as path:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(path)
            sock.sendall(oversized_head(limit))
            assert_431(rawhttp.read_response(sock), limit)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(path)
            assert trickle(sock, every=0.1, limit=8) < 3
        transport = httpx.HTTPTransport(uds=path)
        with httpx.Client(transport=transport, base_url="http://localhost") as client:
            assert client.get("/healthz").status_code == 200
