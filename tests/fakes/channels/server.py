"""Running the fake: on real uvicorn on a loopback port, or in memory over
`httpx.ASGITransport`, plus the pytest fixtures.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from tests.fakes.channels.app import build_app
from tests.fakes.channels.faults import _TrackingHttpTools
from tests.fakes.channels.state import FakeChannels, FakeChannelsConfig
from tests.fixtures.apps import free_port


class FakeChannelsServer:
    """The fake on a free loopback port, in a background thread."""

    def __init__(self, control: FakeChannels | None = None) -> None:
        self.control = control or FakeChannels()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = build_app(self.control)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_config=None,
                                access_log=False, lifespan="off", http=_TrackingHttpTools,
                                timeout_graceful_shutdown=1, timeout_keep_alive=30)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()),
                                       daemon=True, name="fake-channels")

    def start(self) -> FakeChannelsServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the fake channels server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def in_memory_channels(
    config: FakeChannelsConfig | None = None,
) -> tuple[httpx.ASGITransport, FakeChannels]:
    """The same fake without a socket, for unit tests: pass the transport to
    `httpx.AsyncClient(transport=..., base_url=IN_MEMORY_BASE)` and use IN_MEMORY_BASE as the
    api_base. Hangs and drops behave as timeouts/read errors raised in process."""
    control = FakeChannels(config)
    return httpx.ASGITransport(app=build_app(control)), control


IN_MEMORY_BASE = "http://fake-channels.test"


@contextmanager
def start_fake_channels(config: FakeChannelsConfig | None = None) -> Iterator[FakeChannelsServer]:
    """Run the fake for a block: `.url` is the base for TIKTOK_API_BASE and INSTAGRAM_API_BASE
    (and the auth hosts), `.control` the FakeChannels."""
    server = FakeChannelsServer(FakeChannels(config)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fake_channels_server() -> Iterator[FakeChannelsServer]:
    """One fake per test session; use `fake_channels` for a clean state per test."""
    with start_fake_channels() as server:
        yield server


@pytest.fixture
async def fake_channels(fake_channels_server: FakeChannelsServer) -> AsyncIterator[
    FakeChannelsServer
]:
    """The session's fake, reset to default config and empty state for this test."""
    fake_channels_server.control.reset()
    yield fake_channels_server
    fake_channels_server.control.reset()
