"""What a worker leaves on disk is private, and its log holds no secret."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from spur.client.kafka import KafkaTarget
from spur.settings import parse_store_url
from tests.integration.helpers import running_worker, spur, spur_env

pytestmark = pytest.mark.integration


def test_a_worker_keeps_its_state_private_and_logs_no_password(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    password = parse_store_url(store_url).password.get_secret_value()
    assert password, "the test's store URL carries a password"
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP="private")
    state = tmp_path / "state"
    log = tmp_path / "worker.log"
    with running_worker(env, log) as worker:
        deadline = time.monotonic() + 120
        while not (state / "worker.json").exists():
            assert worker.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        status = spur(env, "status", "--format", "json")
        cmdline = Path(f"/proc/{worker.pid}/cmdline").read_bytes()
    assert password.encode() not in cmdline
    assert password not in status.stdout + status.stderr
    assert password not in log.read_text(errors="replace")
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for path in state.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"
