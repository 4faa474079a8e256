"""deploy/nginx/postplan.conf in front of live uvicorn: SSE passes unbuffered (the first event
arrives while the stream is still open), uncompressed, and request ids pass through
(docs/research.md, reliability §8 item 13)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from tests.deploy.tools import require_tool
from tests.fixtures.apps import LiveServer, build_app, free_port, live_server, make_settings
from tests.fixtures.databases import sqlite_url

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nginx" / "postplan.conf"

pytestmark = pytest.mark.live


def stream_app(release: threading.Event, *, accel_header: bool) -> FastAPI:
    """One event, then nothing until the test releases the stream; then `done`.

    A buffering proxy would hold the first event until the end, which never comes unless the
    client has already seen it."""
    app = FastAPI()

    async def events() -> AsyncIterator[bytes]:
        yield b'event: run\ndata: {"runId": "r1"}\n\n'
        # A threading.Event set by the test thread; wait for it without blocking the loop.
        await asyncio.to_thread(release.wait, 30)
        yield b'event: done\ndata: {"status": "completed"}\n\n'

    headers = {"Cache-Control": "no-cache"}
    if accel_header:
        headers["X-Accel-Buffering"] = "no"

    @app.post("/v1/ai/calendar")
    async def generate() -> StreamingResponse:
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    @app.get("/v1/other/stream")
    async def other() -> StreamingResponse:
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    return app


def nginx_conf(tmp_path: Path, listen: int, upstream: int) -> Path:
    site = CONF.read_text()
    site = re.sub(r"listen 8080;", f"listen 127.0.0.1:{listen};", site)
    site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
    site = site.replace("/var/log/nginx/postplan.access.log", str(tmp_path / "postplan.log"))
    (tmp_path / "postplan.conf").write_text(site)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / sub).mkdir(exist_ok=True)
    main = f"""
daemon off;
master_process off;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {tmp_path}/access.log;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/postplan.conf;
}}
"""
    path = tmp_path / "nginx.conf"
    path.write_text(main)
    return path


def run_nginx(tmp_path: Path, upstream_port: int) -> Iterator[str]:
    nginx = require_tool("nginx")
    port = free_port()
    conf = nginx_conf(tmp_path, port, upstream_port)
    check = subprocess.run([nginx, "-t", "-c", str(conf), "-p", str(tmp_path)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(url + "/nowhere", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def release() -> threading.Event:
    return threading.Event()


def first_event_then_release(client: httpx.Client, method: str, path: str,
                             release: threading.Event) -> tuple[list[str], httpx.Headers]:
    seen: list[str] = []
    with client.stream(method, path, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        for line in lines:
            if line.startswith("event:"):
                seen.append(line)
                break
        # The stream is still open (nothing released yet) and the first event is here.
        assert not release.is_set()
        release.set()
        seen += [line for line in lines if line.startswith("event:")]
        return seen, response.headers


def test_sse_passes_unbuffered_and_uncompressed(tmp_path: Path, release: threading.Event) -> None:
    server = LiveServer(stream_app(release, accel_header=False))
    server.start()
    try:
        for url in run_nginx(tmp_path, server.port):
            # Read timeout: a buffering proxy would withhold `run` until `done`, which the test
            # only releases after seeing `run`: the read would time out instead.
            with httpx.Client(base_url=url, timeout=httpx.Timeout(10.0)) as client:
                seen, headers = first_event_then_release(client, "POST", "/v1/ai/calendar",
                                                         release)
            assert seen == ["event: run", "event: done"]
            assert "content-encoding" not in headers
            assert headers["content-type"].startswith("text/event-stream")
    finally:
        release.set()
        server.stop()


def test_x_accel_buffering_is_honoured_outside_the_sse_location(
        tmp_path: Path, release: threading.Event) -> None:
    server = LiveServer(stream_app(release, accel_header=True))
    server.start()
    try:
        for url in run_nginx(tmp_path, server.port):
            with httpx.Client(base_url=url, timeout=httpx.Timeout(10.0)) as client:
                seen, _ = first_event_then_release(client, "GET", "/v1/other/stream", release)
            assert seen == ["event: run", "event: done"]
    finally:
        release.set()
        server.stop()


def test_the_real_app_through_nginx_keeps_request_ids(tmp_path: Path) -> None:
    # Behind a proxy postplan runs with Supabase auth: dev auth refuses relayed requests
    # (test_dev_auth_refuses_requests_relayed_by_nginx).
    import jwt

    secret = "nginx-test-secret-long-enough-for-hs256"
    app = build_app(make_settings(sqlite_url(tmp_path), AUTH_MODE="supabase",
                                  SUPABASE_JWT_SECRET=secret))
    token = jwt.encode({"sub": "via-nginx", "aud": "authenticated",
                        "exp": int(time.time()) + 300}, secret, algorithm="HS256")
    with live_server(app) as server:
        for url in run_nginx(tmp_path, server.port):
            response = httpx.get(url + "/v1/flags",
                                 headers={"Authorization": f"Bearer {token}",
                                          "X-Request-ID": "rid-123"})
            assert response.status_code == 200
            assert response.headers["x-request-id"] == "rid-123"
            assert response.json()["userId"] == "via-nginx"
            generated = httpx.get(url + "/healthz")
            assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])


def test_dev_auth_refuses_requests_relayed_by_nginx(tmp_path: Path) -> None:
    # nginx on this machine connects from 127.0.0.1 for whoever reached it: the relayed request
    # must not be taken as local (issue 12 item 3), while a direct local request still is.
    app = build_app(make_settings(sqlite_url(tmp_path)))
    with live_server(app) as server:
        direct = httpx.get(server.url + "/v1/flags", headers={"X-User-Id": "alice"})
        assert direct.status_code == 200 and direct.json()["userId"] == "alice"
        for url in run_nginx(tmp_path, server.port):
            for spoof in ({}, {"X-Forwarded-For": "127.0.0.1"}):
                relayed = httpx.get(url + "/v1/flags", headers={"X-User-Id": "alice", **spoof})
                assert relayed.status_code == 401, relayed.text
                assert relayed.json()["code"] == "dev_auth_not_loopback"


def test_sse_read_timeout_is_above_the_ping_interval() -> None:
    from postplan.config import Settings

    site = CONF.read_text()
    sse_block = site.split("location ~ ^/v1/ai/calendar", 1)[1].split("}", 1)[0]
    timeout = int(re.search(r"proxy_read_timeout (\d+)s;", sse_block).group(1))  # type: ignore[union-attr]
    ping = Settings.model_fields["sse_ping_seconds"].default
    assert timeout >= 4 * ping
    assert "proxy_buffering off;" in sse_block
    assert "gzip off;" in sse_block
    assert "proxy_http_version 1.1;" in sse_block
    assert "text/event-stream" not in site.split("gzip_types", 1)[1].split(";", 1)[0]


def test_feed_tokens_are_redacted_in_the_nginx_access_log(tmp_path: Path) -> None:
    """The access log of the shipped site config never holds a feed token (issue 12, item 7)."""
    from tests.core import rawhttp
    from tests.fixtures.factories import seed_calendar

    db = sqlite_url(tmp_path)
    seeded = asyncio.run(seed_calendar(db, entries=2))
    app = build_app(make_settings(db, PUBLISH_SERVICE_ENABLED=True))
    with live_server(app) as server:
        # Created directly (dev auth answers only unrelayed local requests); read through nginx.
        made = httpx.post(f"{server.url}/v1/calendars/{seeded.calendar_id}/feed")
        assert made.status_code == 201, made.text
        token = made.json()["token"]
        for url in run_nginx(tmp_path, server.port):
            feed = f"/v1/feeds/{token}.ics"
            referer = {"Referer": f"https://calendar.example{feed}"}
            for method, target in (("GET", feed), ("HEAD", feed), ("POST", feed),
                                   ("GET", f"{feed}?t={token}"), ("GET", f"/v1/feeds/{token}"),
                                   ("GET", f"//v1//Feeds/{token}.ics"),
                                   ("GET", f"/v1/feeds%2F{token}.ics"),
                                   ("GET", "/healthz")):
                status, _ = rawhttp.request(url, method, target, referer)
                assert status in (200, 404, 405), (method, target, status)
    log = (tmp_path / "postplan.log").read_text()
    assert log.count("\n") >= 8
    assert "/v1/feeds/***" in log
    assert token not in log
