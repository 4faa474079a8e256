"""The fake platform's own controls: ledger, faults, latency, clock, the in-memory variant."""

from __future__ import annotations

import time

import httpx
import pytest

from postplan.channels import OutcomeUnknown, get_adapter
from tests.channels.helpers import adapter, creds, drive, request
from tests.fakes.channels_server import (
    IN_MEMORY_BASE,
    FakeChannelsServer,
    in_memory_channels,
)

pytestmark = pytest.mark.live


async def test_error_after_side_effect_is_ambiguous_and_reconciles(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("instagram")
    a = adapter("instagram", http, fake_channels)
    req = request("instagram", "image", acct)
    handle = await a.prepare(creds(acct), req)
    fake_channels.control.fault("/media_publish", "error_after")
    with pytest.raises(OutcomeUnknown):
        await a.publish(creds(acct), req, handle)
    result = await a.reconcile(creds(acct), req, handle)
    assert result is not None and result.state == "published"
    assert len(fake_channels.control.live_posts()) == 1


async def test_duplicates_are_detected(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    acct = fake_channels.control.add_account("tiktok")
    a = adapter("tiktok", http, fake_channels)
    req = request("tiktok", "video", acct, caption="same words")
    await a.publish(creds(acct), req, None)
    await a.publish(creds(acct), req, None)  # what a blind retry would do
    assert fake_channels.control.duplicates() == {("tiktok", acct.account_id, "same words"): 2}
    assert fake_channels.control.count("same words") == 2


async def test_latency_is_applied(
    fake_channels: FakeChannelsServer, http: httpx.AsyncClient
) -> None:
    fake_channels.control.config.latency = 0.05
    acct = fake_channels.control.add_account("instagram")
    a = adapter("instagram", http, fake_channels)
    started = time.perf_counter()
    await a.preflight(creds(acct), request("instagram", "image", acct))
    assert time.perf_counter() - started >= 0.05


async def test_fault_counts_and_expiry(fake_channels: FakeChannelsServer,
                                       http: httpx.AsyncClient) -> None:
    ctl = fake_channels.control
    fault = ctl.fault("/creator_info/", status=500, times=2)
    acct = ctl.add_account("tiktok")
    a = adapter("tiktok", http, fake_channels)
    req = request("tiktok", "video", acct)
    for _ in range(2):
        with pytest.raises(Exception, match="tiktok_unavailable"):
            await a.preflight(creds(acct), req)
    await a.preflight(creds(acct), req)
    assert fault.hits == 2


async def test_in_memory_variant() -> None:
    transport, control = in_memory_channels()
    acct = control.add_account("instagram")
    async with httpx.AsyncClient(transport=transport, base_url=IN_MEMORY_BASE) as http:
        a = get_adapter("instagram", http=http, api_base=IN_MEMORY_BASE, api_version="v25.0",
                        container_poll_interval=0.001)
        req = request("instagram", "image", acct)
        result = await drive(a, creds(acct), req)
        assert result.state == "published"
        handle = await a.prepare(creds(acct), req.model_copy(update={"caption": "again"}))
        control.fault("/media_publish", "drop_after")
        with pytest.raises(OutcomeUnknown):
            await a.publish(creds(acct), req, handle)
    assert len(control.live_posts()) == 2


def test_reset_undoes_monkeypatched_methods() -> None:
    from tests.fakes.channels_server import FakeChannels

    control = FakeChannels()
    control.match_fault = lambda method, target: None  # type: ignore[method-assign]
    control.reset()
    assert "match_fault" not in vars(control)
    assert control.match_fault("GET", "/x") is None
