"""Dev auth answers only a client the transport proves is on this machine, however postplan is
served: `postplan serve` on TCP or a Unix socket, a bare uvicorn on a socket, with or without
uvicorn's proxy headers, behind a proxy that forwards (item 3 of issue 12)."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from postplan.config import Settings
from tests.fixtures.apps import build_app, free_port
from tests.fixtures.factories import seed_calendar
from tests.fixtures.processes import stop

ROOT = Path(__file__).resolve().parents[2]
SCRUBBED = {"CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED", "FLAGS_FILE", "DATABASE_URL",
            "AUTH_MODE", "LOG_FILE", "LLM_BASE_URL", "FORWARDED_ALLOW_IPS"}

#: What a remote client (or a proxy on its behalf) can put on a request to claim it is local,
#: or that reveals it was relayed from elsewhere.
RELAYED = {
    "xff remote": {"X-Forwarded-For": "203.0.113.5"},
    "xff loopback": {"X-Forwarded-For": "127.0.0.1"},
    "xff chain": {"X-Forwarded-For": "203.0.113.5, 127.0.0.1"},
    "forwarded": {"Forwarded": "for=127.0.0.1;proto=http"},
    "x-real-ip": {"X-Real-IP": "127.0.0.1"},
    "via": {"Via": "1.1 edge-proxy"},
    "proto only": {"X-Forwarded-Proto": "https"},
}


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: a Unix socket path must fit in 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="pp-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@contextmanager
def uvicorn_thread(app: Any, **config: Any) -> Iterator[uvicorn.Server]:
    """Real uvicorn (proxy-header middleware included) serving `app` in a thread."""
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False,
                                           lifespan="on", timeout_graceful_shutdown=2, **config))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def uds_client(path: Path) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=str(path)),
                             base_url="http://localhost", timeout=30)


async def assert_refused(client: httpx.AsyncClient, headers: dict[str, str], why: str) -> None:
    res = await client.get("/v1/calendars", headers={"X-User-Id": "alice", **headers})
    assert res.status_code == 401, f"{why}: {res.status_code} {res.text}"
    assert res.json()["code"] == "dev_auth_not_loopback", why
    assert "items" not in res.json()


async def assert_alice(client: httpx.AsyncClient) -> None:
    res = await client.get("/v1/calendars", headers={"X-User-Id": "alice"})
    assert res.status_code == 200, res.text
    assert len(res.json()["items"]) == 1


@contextmanager
def postplan_serve(tmp_path: Path, args: list[str], *, ready: Callable[[], bool],
                   **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """`postplan serve ARGS` as a child process in AUTH_MODE=dev on a SQLite file."""
    full = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    full.update({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
                 "WORKER_ENABLED": "false", "SPOOL_DIR": str(tmp_path / "spool"),
                 "PYTHONPATH": str(ROOT), **env})
    proc = subprocess.Popen([sys.executable, "-m", "postplan.cli", "serve", "--no-worker", *args],
                            cwd=tmp_path, env=full, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not ready():
            if proc.poll() is not None:
                raise AssertionError(f"serve exited {proc.returncode}: "
                                     f"{proc.stderr.read().decode() if proc.stderr else ''}")
            assert time.monotonic() < deadline, "serve did not become ready"
            time.sleep(0.05)
        yield proc
    finally:
        stop(proc, timeout=20)


def _healthy(get: Callable[[], httpx.Response]) -> bool:
    try:
        return get().status_code == 200
    except httpx.TransportError:
        return False


async def test_serve_on_a_unix_socket_in_dev_mode_is_owner_only(
    tmp_path: Path, short_dir: Path,
) -> None:
    sock = short_dir / "pp.sock"

    def ready() -> bool:
        if not sock.is_socket():
            return False
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock))) as c:
            return _healthy(lambda: c.get("http://localhost/healthz"))

    with postplan_serve(tmp_path, ["--uds", str(sock)], ready=ready):
        # Created owner-only, so only this user's processes can connect at all.
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        await seed_calendar(f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}", user_id="alice")
        async with uds_client(sock) as client:
            await assert_alice(client)
            for name, headers in RELAYED.items():
                await assert_refused(client, headers, name)
            # The proof is the socket's permissions: opened up to everyone, it proves nothing.
            sock.chmod(0o666)
            await assert_refused(client, {}, "world-connectable socket")
    assert not sock.exists(), "serve leaves no socket file behind"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("proxy", [
    pytest.param({"proxy_headers": False}, id="no-proxy-headers"),
    pytest.param({"proxy_headers": True, "forwarded_allow_ips": "*"}, id="trust-all-proxies"),
])
async def test_bare_uvicorn_on_a_unix_socket_refuses_dev_auth(
    settings_factory: Callable[..., Settings], db_url: str, short_dir: Path,
    proxy: dict[str, Any],
) -> None:
    # uvicorn --uds makes the socket 0666: any local user, or a proxy relaying the internet,
    # can connect, and the peer has no address. Trusting proxies from anywhere ("*") even turns
    # `X-Forwarded-For: 127.0.0.1` into a loopback client address.
    await seed_calendar(db_url, user_id="alice")
    sock = short_dir / "bare.sock"
    with uvicorn_thread(build_app(settings_factory()), uds=str(sock), **proxy):
        assert stat.S_IMODE(sock.stat().st_mode) == 0o666
        async with uds_client(sock) as client:
            await assert_refused(client, {}, "plain request")
            await assert_refused(client, {"X-Forwarded-For": "127.0.0.1"}, "xff loopback")
            health = await client.get("/healthz")
            assert health.status_code == 200  # the server itself is fine; only dev auth refuses


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("proxy", [
    pytest.param({"proxy_headers": False}, id="proxy-without-proxy-headers"),
    pytest.param({"proxy_headers": True, "forwarded_allow_ips": "127.0.0.1"},
                 id="trusted-loopback-proxy"),
    pytest.param({"proxy_headers": True, "forwarded_allow_ips": "192.0.2.1"},
                 id="untrusted-peer"),
    pytest.param({"proxy_headers": True, "forwarded_allow_ips": "*"}, id="trust-all-proxies"),
])
async def test_tcp_requests_relayed_by_a_proxy_are_refused(
    settings_factory: Callable[..., Settings], db_url: str, proxy: dict[str, Any],
) -> None:
    # Only loopback is reachable here, so a proxy on this machine relaying a remote client is
    # what a "non-loopback peer" looks like: the peer is 127.0.0.1, the headers say otherwise.
    await seed_calendar(db_url, user_id="alice")
    port = free_port()
    with uvicorn_thread(build_app(settings_factory()), host="127.0.0.1", port=port, **proxy):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await assert_alice(client)  # a local client is still served
            for name, headers in RELAYED.items():
                await assert_refused(client, headers, name)


async def test_serve_in_dev_mode_never_trusts_forwarded_headers(tmp_path: Path) -> None:
    # FORWARDED_ALLOW_IPS=* would make uvicorn take X-Forwarded-For from anyone as the client
    # address; `postplan serve` in dev mode turns proxy headers off and dev auth refuses them.
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with postplan_serve(tmp_path, ["--port", str(port)], FORWARDED_ALLOW_IPS="*",
                        ready=lambda: _healthy(lambda: httpx.get(url + "/healthz", timeout=1))):
        await seed_calendar(f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}", user_id="alice")
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await assert_alice(client)
            for name, headers in RELAYED.items():
                await assert_refused(client, headers, name)


@pytest.mark.parametrize("args", [["--proxy-headers"], ["--forwarded-allow-ips", "127.0.0.1"]])
def test_serve_in_dev_mode_refuses_to_start_behind_trusted_proxies(
    tmp_path: Path, args: list[str],
) -> None:
    from typer.testing import CliRunner

    from postplan.cli import app as cli_app
    from postplan.config import get_settings

    get_settings.cache_clear()
    try:
        res = CliRunner().invoke(cli_app, ["serve", "--port", str(free_port()), *args], env={
            "AUTH_MODE": "dev", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"})
    finally:
        get_settings.cache_clear()
    assert res.exit_code == 2, res.output
    assert "AUTH_MODE=dev refuses --proxy-headers" in res.output
    assert not (tmp_path / "x.db").exists()  # refused before anything started


@pytest.mark.parametrize(("scope", "local"), [
    ({"client": ("127.0.0.1", 5), "server": ("127.0.0.1", 80)}, True),
    ({"client": ("127.8.9.10", 5), "server": ("127.0.0.1", 80)}, True),
    ({"client": ("::1", 5), "server": ("::1", 80)}, True),
    ({"client": ("::ffff:127.0.0.1", 5), "server": ("::", 80)}, True),
    ({"client": ("::ffff:198.51.100.4", 5), "server": ("::", 80)}, False),
    ({"client": ("203.0.113.9", 5), "server": ("0.0.0.0", 80)}, False),
    ({"client": ("localhost", 5), "server": ("x", 80)}, False),  # a name proves nothing
    ({"client": None, "server": ("x", 80)}, False),
    ({"client": None, "server": None}, False),
    ({"client": None, "server": ("\0abstract", None)}, False),
    ({"client": None, "server": ("/nonexistent/pp.sock", None)}, False),
])
def test_what_counts_as_this_machine(scope: dict[str, Any], local: bool) -> None:
    from postplan.core.peer import not_local_reason

    assert (not_local_reason(scope, {}) is None) is local


#: Requests a web page on another site can make a local browser send to 127.0.0.1.
FROM_A_WEB_PAGE = {
    # Fetch metadata as every current browser sends it: the rebinding page is "same-origin".
    "dns rebinding": {"Host": "attacker.example:8000", "Sec-Fetch-Site": "same-origin",
                      "Sec-Fetch-Mode": "cors"},
    "rebinding to a look-alike": {"Host": "127.0.0.1.attacker.example",
                                  "Sec-Fetch-Site": "same-origin"},
    "cross-site form post": {"Origin": "https://attacker.example"},
    "cross-site from localhost-looking name": {"Origin": "http://localhost.attacker.example"},
    "opaque origin (sandboxed frame, file://)": {"Origin": "null"},
    "not a url": {"Origin": "javascript:alert(1)"},
}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_dev_auth_refuses_requests_a_web_page_elsewhere_made_a_local_browser_send(
    settings_factory: Callable[..., Settings], db_url: str,
) -> None:
    # The peer is on this machine (a browser), but the page that drove it is not: DNS rebinding
    # (Host is the attacker's name) or a cross-site request (Origin is the attacker's page).
    await seed_calendar(db_url, user_id="alice")
    port = free_port()
    settings = settings_factory(CORS_ORIGINS="https://studio.example")
    with uvicorn_thread(build_app(settings), host="127.0.0.1", port=port):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await assert_alice(client)
            for name, headers in FROM_A_WEB_PAGE.items():
                await assert_refused(client, headers, name)
                res = await client.post("/v1/calendars/00000000-0000-0000-0000-000000000000/"
                                        "feed", headers={"X-User-Id": "alice", **headers})
                assert res.status_code == 401, f"{name}: POST {res.status_code}"
            # Pages this machine serves, and the origins the operator allowed, are still served.
            for origin in (f"http://127.0.0.1:{port}", "http://localhost:3000",
                           "http://app.localhost:5173", "https://studio.example"):
                res = await client.get("/v1/calendars",
                                       headers={"X-User-Id": "alice", "Origin": origin})
                assert res.status_code == 200, f"{origin}: {res.status_code} {res.text}"
            # A client that is no browser (curl, an SDK) may name any host: no page drove it.
            res = await client.get("/v1/calendars",
                                   headers={"X-User-Id": "alice", "Host": "postplan.internal"})
            assert res.status_code == 200, res.text
            for host in (f"localhost:{port}", f"[::1]:{port}", "app.localhost"):
                res = await client.get("/v1/calendars",
                                       headers={"X-User-Id": "alice", "Host": host,
                                                "Sec-Fetch-Site": "same-origin"})
                assert res.status_code == 200, f"{host}: {res.status_code} {res.text}"
