"""Contract suite fixtures: the fake TikTok + Instagram platform, reset per test."""

from __future__ import annotations

from tests.fakes.channels_server import fake_channels, fake_channels_server

__all__ = ["fake_channels", "fake_channels_server"]
