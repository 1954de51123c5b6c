"""docker-compose.yml, checked structurally (no Docker engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def test_the_services() -> None:
    services = compose()["services"]
    assert set(services) == {"kafka", "clickhouse", "worker", "prometheus", "grafana"}
    assert services["worker"]["build"] == "."
    assert (ROOT / "Dockerfile").is_file()
    assert set(services["worker"]["depends_on"]) == {"kafka", "clickhouse"}


def test_every_mounted_path_exists() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and not source.startswith("./deploy/certs"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_published_ports() -> None:
    services = compose()["services"]
    published = {
        name: {int(str(port).split(":")[0]) for port in service.get("ports", [])}
        for name, service in services.items()
    }
    assert published["clickhouse"] == {9440}  # TLS native port only
    assert published["grafana"] == {3000}
    assert published["prometheus"] == {9090}
    assert published["kafka"] == set()
    assert published["worker"] == set()


def test_no_default_secrets() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    secrets = re.findall(r"\$\{(\w*PASSWORD\w*)([^}]*)\}", text)
    assert secrets
    for name, rule in secrets:
        assert rule.startswith(":?"), f"{name} must be required, not defaulted"


def test_the_worker_reaches_the_store_over_tls_and_prometheus_scrapes_it() -> None:
    worker = compose()["services"]["worker"]["environment"]
    assert worker["SPUR_CLICKHOUSE_URL"].startswith("clickhouses://spur_writer:")
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"worker:{worker['SPUR_METRICS_PORT']}"]
