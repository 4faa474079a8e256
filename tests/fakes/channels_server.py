"""The fake TikTok + Instagram platform; it lives in `tests/fakes/channels/`.

Kept so `from tests.fakes.channels_server import ...` (fixtures included) goes on working.
"""

from __future__ import annotations

from tests.fakes.channels.server import (
    IN_MEMORY_BASE,
    FakeChannelsServer,
    fake_channels,
    fake_channels_server,
    in_memory_channels,
    start_fake_channels,
)
from tests.fakes.channels.state import (
    FakeAccount,
    FakeChannels,
    FakeChannelsConfig,
    FakePost,
    Fault,
)

__all__ = [
    "IN_MEMORY_BASE",
    "FakeAccount",
    "FakeChannels",
    "FakeChannelsConfig",
    "FakeChannelsServer",
    "FakePost",
    "Fault",
    "fake_channels",
    "fake_channels_server",
    "in_memory_channels",
    "start_fake_channels",
]
