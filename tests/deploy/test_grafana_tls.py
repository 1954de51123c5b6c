"""Grafana verifies the ClickHouse server's certificate (tlsSkipVerify is false)
against the compose CA: the datasource carries the CA, and compose mounts it,
and only it, into Grafana. Checked by parsing (no Docker engine runs here)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import PurePosixPath
from typing import Any

import yaml

from tests.deploy.grafana_plugin import CLICKHOUSE_PLUGIN, ROOT, datasource


def mounts(service: str) -> dict[str, tuple[str, str]]:
    """Container path -> (host path, mode) of a compose service's bind mounts."""
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    found = {}
    for volume in compose["services"][service].get("volumes", []):
        host, container, *mode = volume.split(":")
        found[container] = (host, mode[0] if mode else "rw")
    return found


def server_ca() -> str:
    """The host file the ClickHouse server uses as its CA (config.d + compose)."""
    config = ET.parse(ROOT / "deploy" / "clickhouse" / "config.d" / "spur.xml").getroot()
    ca = PurePosixPath(config.findtext("openSSL/server/caConfig") or "")
    host, _ = mounts("clickhouse")[str(ca.parent)]
    return f"{host}/{ca.name}"


def test_the_clickhouse_datasource_verifies_the_server_with_the_compose_ca() -> None:
    source = datasource(CLICKHOUSE_PLUGIN)
    data = source["jsonData"]
    assert data["secure"] is True
    assert data["tlsSkipVerify"] is False
    # The plugin adds tlsCACert to the roots only with tlsAuthWithCACert.
    assert data["tlsAuthWithCACert"] is True
    # The certificate names the compose service, which the plugin checks.
    assert data["host"] == "clickhouse"
    reference = source["secureJsonData"]["tlsCACert"]
    matched = re.fullmatch(r"\$__file\{(/[^}]+)\}", reference)
    assert matched, f"tlsCACert {reference!r}: read from the mounted file by provisioning"
    host, mode = mounts("grafana")[matched[1]]
    assert host == server_ca()
    assert mode == "ro"


def test_grafana_gets_the_ca_and_no_key() -> None:
    certs = [host for host, _ in mounts("grafana").values() if host.startswith("./deploy/certs")]
    assert certs == [server_ca()], "mount the CA file alone, never the server's key"
