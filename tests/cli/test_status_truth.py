"""`spur status` tells the truth about a local store that is hung, deaf or full.

Each case runs a local store of its own (it is stopped, silenced or filled)
and `spur status` as a user would, as a subprocess in the state directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from spur.dev.local_store import LocalStore
from spur.dev.store_engine import has_own_network
from spur.local_state import ADMIN, RunningStore
from spur.processes import free_port
from tests.processes import children


def _status(state_dir: Path) -> tuple[int, dict[str, object], str, float]:
    env = {
        **os.environ,
        "SPUR_STATE_DIR": str(state_dir),
        "SPUR_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",  # nobody listens: no broker
    }
    for name in ("SPUR_CLICKHOUSE_URL", "SPUR_CLICKHOUSE_READ_URL"):
        env.pop(name, None)
    started = time.monotonic()
    json_run = subprocess.run(
        [sys.executable, "-m", "spur", "status", "--format", "json"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    text_run = subprocess.run(
        [sys.executable, "-m", "spur", "status"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    took = time.monotonic() - started
    assert json_run.returncode == text_run.returncode
    # No asyncio noise ("Unclosed AIOKafkaConsumer") and no driver tracebacks.
    for run in (json_run, text_run):
        assert "Unclosed" not in run.stderr, run.stderr
        assert "Traceback" not in run.stderr, run.stderr
    return json_run.returncode, json.loads(json_run.stdout)["store"], text_run.stdout, took


@contextlib.contextmanager
def _local_store(state_dir: Path) -> Iterator[RunningStore]:
    store = LocalStore(state_dir / "store")
    running = store.start()
    engines = children(running.pid)
    try:
        yield running
    finally:
        for pid in [running.pid, *engines]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        store.stop()


def test_a_hung_store_is_reported_with_a_hint_within_seconds(tmp_path: Path) -> None:
    with _local_store(tmp_path) as running:
        code, store, text, _ = _status(tmp_path)
        assert store["reachable"] is True, store
        hung = [running.pid, *children(running.pid)]  # the server and its engine
        for pid in hung:
            os.kill(pid, signal.SIGSTOP)
        code, store, text, took = _status(tmp_path)
        billing = subprocess.run(
            [sys.executable, "-m", "spur", "billing", "--month", "2026-11"],
            env={**os.environ, "SPUR_STATE_DIR": str(tmp_path), "SPUR_INSERT_TIMEOUT_SECONDS": "2"},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    # Any command meeting the hung store says so, with what to do.
    assert billing.returncode == 1, billing.stderr
    assert "Hint: the store did not answer in time" in billing.stderr, billing.stderr
    assert code == 1
    assert store["reachable"] is False
    assert "did not answer in time" in str(store["hint"]), store
    assert f"pid {running.pid}" in str(store["hint"])
    assert "Hint: " in text, text
    assert "did not answer in time" in text, text
    assert took < 30, took  # two runs, each bounded by the status timeout, not the 30 s default


def test_a_store_whose_listener_was_stopped_is_reported_or_heals(tmp_path: Path) -> None:
    """Behind the gate (an engine with a network of its own) the server starts a deaf
    engine again by itself; without it, status names the stopped listener."""
    from clickhouse_driver import Client

    with _local_store(tmp_path) as running:
        gated = has_own_network(running.protection)
        if not gated:  # held still, so that status meets the stopped listener every time
            os.kill(running.pid, signal.SIGSTOP)
        admin = Client(
            host="127.0.0.1", port=running.port, user=ADMIN,
            password=running.credentials.passwords[ADMIN],
        )  # fmt: skip
        admin.execute("SYSTEM STOP LISTEN TCP")
        admin.disconnect()
        if gated:
            deadline = time.monotonic() + 30
            while True:
                code, store, text, _ = _status(tmp_path)
                if store["reachable"] or time.monotonic() > deadline:
                    break
                time.sleep(1)
            assert store["reachable"] is True, store  # healed, on the same port
            return
        code, store, text, _ = _status(tmp_path)
    assert code == 1
    assert store["reachable"] is False
    assert "does not listen" in str(store["hint"]), store
    assert "spur dev up" in str(store["hint"]), store
    assert "Hint: " in text, text


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_is_reported_as_not_writable(tmp_path: Path) -> None:
    mount = tmp_path / f"small-{uuid.uuid4().hex[:8]}"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(mount)], check=True)
    try:
        with _local_store(mount) as _running:
            code, store, _, _ = _status(mount)
            assert code == 0 or store["reachable"], store
            assert store["disk"]["full"] is False  # type: ignore[index]
            # Fill the disk the store writes to, leaving a few MB.
            free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
            with (mount / "filler").open("wb") as filler:
                filler.truncate(0)
                filler.write(b"\0" * (free - 4 * 1024**2))
            code, store, text, _ = _status(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
    assert code == 1
    assert store["reachable"] is True, store
    assert store["writable"] is False, store
    assert "disk full" in str(store["error"]), store
    assert "free space" in str(store["hint"]), store
    assert "NOT WRITABLE" in text, text
    assert "Hint: " in text, text
