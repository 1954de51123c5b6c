"""A healthy first start logs no error: the worker waits for its coordinators.

On a broker's first start the group coordinator appears only once the offsets
topic exists; a worker that joined before then logged ``[ERROR] Group
Coordinator Request failed``. This test starts a broker of its own (the
session's broker has long had its offsets topic).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spur.dev.broker import LocalBroker
from tests.integration.helpers import running_worker, spur_env
from tests.processes import descendants

pytestmark = pytest.mark.integration


def test_the_first_start_on_a_new_broker_logs_no_error(tmp_path: Path, store_url: str) -> None:
    broker = LocalBroker(data_dir=tmp_path / "kafka")
    broker.start()
    try:
        log = tmp_path / "worker.log"
        with running_worker(spur_env(broker.target, tmp_path, store_url), log) as worker:
            deadline = time.monotonic() + 90
            while "worker metrics at" not in log.read_text() and time.monotonic() < deadline:
                assert worker.poll() is None, log.read_text()
                time.sleep(0.2)
            time.sleep(8)  # both groups join meanwhile
            assert worker.poll() is None, log.read_text()
    finally:
        broker.stop()
    text = log.read_text()
    assert "worker metrics at" in text, text
    assert "Group Coordinator Request failed" not in text, text
    assert "NotLeaderForPartition" not in text, text
    assert "[ERROR]" not in text, text


def test_the_demo_runs_clean(tmp_path: Path) -> None:
    """`spur demo` on its own broker and store: exit 0, no traceback, no coordinator error."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SPUR_")}
    result = subprocess.run(
        [sys.executable, "-m", "spur", "demo", "--customers", "3", "--sessions", "5"],
        cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "billed actions" in result.stdout
    # Written to a pipe: whole lines, not wrapped at 80 columns.
    assert re.search(r"web requests and \d+ malformed events", result.stdout), result.stdout
    # aiokafka's warnings about produces it retries (NotLeaderForPartitionError
    # while a new topic's leader settles) go to the demo's log, not the console.
    for noise in ("Group Coordinator Request failed", "Traceback", "NotLeaderForPartition"):
        assert noise not in output, output


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone meanwhile
        return b""


def test_sigterm_stops_the_demo_and_everything_it_started(tmp_path: Path) -> None:
    """`kill <demo>` (not the process group): its broker, store and worker stop too."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SPUR_")}
    demo = subprocess.Popen(
        [sys.executable, "-m", "spur", "demo", "--customers", "3", "--sessions", "5"],
        cwd=tmp_path, env=clean, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        # Its broker (java), its store and its worker: at least three children running.
        while time.monotonic() < deadline and demo.poll() is None:
            started |= descendants(demo.pid)
            commands = [_command(pid) for pid in started]
            if any(b"java" in c for c in commands) and any(b"worker" in c for c in commands):
                break
            time.sleep(0.2)
        assert demo.poll() is None, demo.communicate()[1]
        started |= descendants(demo.pid)
        demo.send_signal(signal.SIGTERM)
        _, stderr = demo.communicate(timeout=120)
        left = {pid for pid in started if _alive(pid)}
        assert not left, (left, stderr)
        assert demo.returncode == 1, stderr
        assert "Traceback" not in stderr, stderr
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
        for pid in started:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
