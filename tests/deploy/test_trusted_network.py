"""Dev auth in a container: a bridge network's peers are trusted only when the operator lists
the network in DEV_AUTH_TRUSTED_NETWORKS (docs/deploy.md); relayed requests never are."""

from __future__ import annotations

import ipaddress

import pytest
import typer

from postplan.cli.server import _check_dev_serving
from postplan.config import Settings
from postplan.core.peer import not_local_reason

BRIDGE = [ipaddress.ip_network("172.17.0.0/16")]


def scope(host: str) -> dict[str, object]:
    return {"type": "http", "client": (host, 50000), "server": ("172.17.0.2", 8000)}


def test_a_bridge_peer_is_refused_unless_its_network_is_listed() -> None:
    assert not_local_reason(scope("172.17.0.1"), {}) is not None
    assert not_local_reason(scope("172.17.0.1"), {}, BRIDGE) is None
    assert not_local_reason(scope("::ffff:172.17.0.1"), {}, BRIDGE) is None
    assert not_local_reason(scope("10.1.2.3"), {}, BRIDGE) is not None
    assert not_local_reason(scope("127.0.0.1"), {}, BRIDGE) is None


def test_relayed_requests_stay_refused_from_a_trusted_network() -> None:
    reason = not_local_reason(scope("172.17.0.1"), {"x-forwarded-for": "203.0.113.9"}, BRIDGE)
    assert reason is not None and "relayed" in reason


def test_setting_parses_cidrs_and_refuses_garbage() -> None:
    settings = Settings(_env_file=None,  # type: ignore[call-arg]
                        DEV_AUTH_TRUSTED_NETWORKS="172.17.0.0/16, fd00::/8")
    assert [str(n) for n in settings.dev_auth_trusted_networks] == ["172.17.0.0/16", "fd00::/8"]
    with pytest.raises(ValueError, match="DEV_AUTH_TRUSTED_NETWORKS"):
        Settings(_env_file=None, DEV_AUTH_TRUSTED_NETWORKS="everyone")  # type: ignore[call-arg]


def test_serve_binds_beyond_loopback_in_dev_mode_only_with_trusted_networks() -> None:
    with pytest.raises(typer.Exit):
        _check_dev_serving("0.0.0.0", None, None, None)
    _check_dev_serving("0.0.0.0", None, None, None, trusted_networks=True)
    with pytest.raises(typer.Exit):  # forwarded headers stay refused
        _check_dev_serving("0.0.0.0", None, True, None, trusted_networks=True)


async def test_dev_auth_answers_a_trusted_bridge_peer() -> None:
    import httpx

    from tests.fixtures.apps import build_app, make_settings

    app = build_app(make_settings("sqlite+aiosqlite://",
                                  DEV_AUTH_TRUSTED_NETWORKS="172.17.0.0/16"))
    transport = httpx.ASGITransport(app=app, client=("172.17.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        ok = await client.get("/v1/flags", headers={"X-User-Id": "u"})
    assert ok.status_code == 200, ok.text
    closed = build_app(make_settings("sqlite+aiosqlite://"))
    transport = httpx.ASGITransport(app=closed, client=("172.17.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        refused = await client.get("/v1/flags", headers={"X-User-Id": "u"})
    assert refused.status_code == 401
    assert refused.json()["code"] == "dev_auth_not_loopback"
