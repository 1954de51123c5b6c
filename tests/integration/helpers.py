"""Run spur commands and workers as the user would: as subprocesses."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from aiokafka.errors import KafkaError

from spur.broker import consumer_lag
from spur.client.kafka import KafkaTarget
from spur.worker.launch import WorkerProcess, start_worker, worker_env

spur_env = worker_env  # the name the tests know it by


def spur(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spur", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def running_worker(env: dict[str, str], log: Path) -> WorkerProcess:
    """A `spur worker` subprocess, stopped (SIGTERM, then SIGKILL) on exit of its ``with``."""
    return start_worker(env, log)


def wait_until_committed(
    bootstrap: str | KafkaTarget,
    group: str,
    topics: list[str],
    *,
    worker: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 120.0,
) -> None:
    """Block until ``group`` has committed every message of ``topics``."""
    deadline = time.monotonic() + timeout
    last: dict[str, int] = {}
    while time.monotonic() < deadline:
        assert worker.poll() is None, f"worker died:\n{log.read_text()[-3000:]}"
        try:
            last = asyncio.run(consumer_lag(bootstrap, group, topics))
        except KafkaError as exc:
            if not exc.retriable:
                raise
        else:
            if last and sum(last.values()) == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"lag still {last} after {timeout} s:\n{log.read_text()[-3000:]}")
