"""The worker's metrics port is stable and documented (9464 unless
SPUR_METRICS_PORT says otherwise), Prometheus scrapes that port, and a
second worker on the same host gets a message saying what to do."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from spur.processes import free_port
from spur.settings import SettingsError
from spur.settings.worker import WorkerSettings
from spur.worker.api import WorkerAPI
from spur.worker.launch import worker_env
from tests.deploy.grafana_plugin import ROOT


def default_port() -> int:
    default = WorkerSettings.model_fields["metrics_port"].default
    assert isinstance(default, int)
    return default


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port some other process listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


def test_the_default_port_is_fixed_and_prometheus_scrapes_it() -> None:
    port = default_port()
    assert port != 0, "a free port moves on every restart: Prometheus scrapes the old one"
    assert port == 9464  # documented in docs/cli.md and deploy/prometheus/prometheus.yml
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "spur-worker"]
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    assert targets
    assert {int(t.rsplit(":", 1)[1]) for t in targets} == {port}
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    worker = compose["services"]["worker"]
    assert int(worker["environment"].get("SPUR_METRICS_PORT", port)) == port
    assert {int(str(p)) for p in worker["expose"]} == {port}
    assert f"`SPUR_METRICS_PORT` | {port} |" in (ROOT / "docs" / "cli.md").read_text()


def test_a_taken_port_is_a_message_naming_the_setting(taken_port: int) -> None:
    with pytest.raises(SettingsError, match=r"SPUR_METRICS_PORT: port \d+ .* in use.* its own"):
        WorkerAPI(taken_port)


def test_a_second_worker_on_the_host_stops_with_that_message_first(
    taken_port: int, tmp_path: Path
) -> None:
    # No broker and no store: the port is checked before either is touched.
    env = {**os.environ, "SPUR_METRICS_PORT": str(taken_port), "SPUR_STATE_DIR": str(tmp_path)}
    env.pop("SPUR_KAFKA_BOOTSTRAP", None)
    done = subprocess.run(
        [sys.executable, "-m", "spur", "worker"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"SPUR_METRICS_PORT: port {taken_port}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "faust").exists()


def test_workers_started_by_the_demo_benchmarks_and_tests_take_free_ports(tmp_path: Path) -> None:
    env = worker_env("127.0.0.1:9092", tmp_path, "clickhouse://u:p@127.0.0.1:9000/spur")
    assert env["SPUR_METRICS_PORT"] == "0"
    chosen = str(free_port())
    assert worker_env("b", tmp_path, "u", SPUR_METRICS_PORT=chosen)["SPUR_METRICS_PORT"] == chosen
    first, second = WorkerAPI(0), WorkerAPI(0)
    first.start(tmp_path / "first" / "worker.json")
    second.start(tmp_path / "second" / "worker.json")
    try:
        assert first.port != second.port
    finally:
        first.stop()
        second.stop()
