"""The local broker: start, readiness, failure reporting, `spur dev up/down`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spur.dev.broker import BrokerError, LocalBroker
from spur.processes import pid_alive

pytestmark = pytest.mark.integration


def test_a_broker_that_cannot_start_reports_its_log_tail(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = LocalBroker(data_dir=tmp_path / "kafka", port=port)
        with pytest.raises(BrokerError) as failure:
            broker.start(timeout=60)
    message = str(failure.value)
    assert "log tail" in message
    assert "Address already in use" in message or "BindException" in message
    assert broker.process is None  # stopped again


def run_spur(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SPUR_KAFKA_BOOTSTRAP"}
    env["SPUR_STATE_DIR"] = str(state_dir)
    return subprocess.run(
        [sys.executable, "-m", "spur", *args],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_dev_up_and_down(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_file = state_dir / "dev-broker" / "state.json"
    try:
        up = run_spur(state_dir, "dev", "up")
        assert up.returncode == 0, up.stderr
        assert "started at 127.0.0.1:" in up.stdout
        pid = json.loads(state_file.read_text())["pid"]
        assert pid_alive(pid)

        again = run_spur(state_dir, "dev", "up")
        assert "already running" in again.stdout
        assert json.loads(state_file.read_text())["pid"] == pid

        bootstrap = json.loads(state_file.read_text())["bootstrap"]
        os.kill(pid, signal.SIGKILL)  # dies; comes back where clients look for it
        wait_until_gone(pid)
        back = run_spur(state_dir, "dev", "up")
        assert back.returncode == 0, back.stderr
        assert json.loads(state_file.read_text())["bootstrap"] == bootstrap
        pid = json.loads(state_file.read_text())["pid"]

        down = run_spur(state_dir, "dev", "down")
        assert down.returncode == 0, down.stderr
        assert "stopped Kafka" in down.stdout
        assert not pid_alive(pid)
        assert not state_file.exists()
    finally:
        run_spur(state_dir, "dev", "down")


def wait_until_gone(pid: int) -> None:
    deadline = time.monotonic() + 30
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def test_commands_without_a_broker_say_what_to_do(tmp_path: Path) -> None:
    lines = tmp_path / "events.jsonl"
    lines.write_text("{}\n")
    result = run_spur(tmp_path / "state", "produce", str(lines))
    assert result.returncode == 1
    assert "spur dev up" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broker_directory_formatted_without_a_login_is_refused(tmp_path: Path) -> None:
    """An older spur's broker data: refused with what to do, never served open."""
    data = tmp_path / "kafka"
    before = LocalBroker(data_dir=data, authenticate=False)  # as an older spur formatted it
    before.start()
    before.stop()
    with pytest.raises(BrokerError) as refused:
        LocalBroker(data_dir=data).start()
    assert "without authentication" in str(refused.value)
    assert f"rm -r {data}" in str(refused.value)
    assert not (data / "credentials.json").exists()
