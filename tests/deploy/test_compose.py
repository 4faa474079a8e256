"""deploy/compose.yaml wires what docs/deploy.md says: host networking everywhere, the shipped
alert rules and the dashboard mounted where Prometheus and Grafana read them, the scrape targets
on the ports the API and worker listen on. (This machine has no registry to pull the stack's
images; `make image-test` runs the postplan image itself.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """{container path: host path} of a service's bind mounts."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        found[target] = source
    return found


def test_every_service_uses_host_networking() -> None:
    services = load(DEPLOY / "compose.yaml")["services"]
    assert set(services) == {"postgres", "migrate", "api", "worker", "prometheus", "grafana"}
    for name, service in services.items():
        assert service.get("network_mode") == "host", name
        assert "ports" not in service, name
    for name in ("migrate", "api", "worker"):
        assert services[name]["init"] is True, name


def test_prometheus_loads_the_shipped_rules_and_scrapes_api_and_worker() -> None:
    services = load(DEPLOY / "compose.yaml")["services"]
    prometheus = mounts(services["prometheus"])
    config_path = prometheus["/etc/prometheus/prometheus.yml"]
    assert (DEPLOY / config_path).resolve() == DEPLOY / "prometheus" / "prometheus.yml"
    config = load(DEPLOY / "prometheus" / "prometheus.yml")
    for rule_file in config["rule_files"]:
        assert (DEPLOY / prometheus[rule_file]).resolve() == DEPLOY / "prometheus" / "alerts.yml"
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"]
               for t in sc["targets"]}
    api = services["api"]["command"]
    worker = services["worker"]["command"]
    assert f"127.0.0.1:{api[api.index('--port') + 1]}" in targets
    assert f"127.0.0.1:{worker[worker.index('--metrics-port') + 1]}" in targets


def test_grafana_provisions_the_dashboard_and_the_prometheus_datasource() -> None:
    grafana = mounts(load(DEPLOY / "compose.yaml")["services"]["grafana"])
    provisioning = DEPLOY / grafana["/etc/grafana/provisioning"]
    dashboards = DEPLOY / grafana["/var/lib/grafana/dashboards"]
    assert (dashboards / "postplan.json").is_file()
    provider = load(provisioning / "dashboards" / "postplan.yaml")["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    source = load(provisioning / "datasources" / "prometheus.yaml")["datasources"][0]
    assert source["uid"] == "postplan-prometheus" and source["url"] == "http://127.0.0.1:9090"
