"""Run spur commands and workers as the user would: as subprocesses."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiokafka.errors import KafkaError

from spur.broker import consumer_lag
from spur.client.kafka import KafkaTarget
from spur.processes import stop_pid
from spur.worker.launch import worker_env

spur_env = worker_env  # the name the tests know it by


def spur(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spur", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@contextmanager
def running_worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A `spur worker` subprocess, stopped (SIGTERM, then SIGKILL) on exit."""
    with log.open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "spur", "worker"],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        yield worker
    finally:
        stop_pid(worker.pid, timeout=30, wait=worker.wait)


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
