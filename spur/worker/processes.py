"""The extra actions processes of ``spur worker --processes N``: started, fed back, restarted.

Why processes: the batch step is Python, and one process uses one core at
most; the consumer group already spreads the actions partitions over its
members and decides each id on one of them, so more members are what lets
a worker use more cores (docs/cli.md, ``spur worker``).

:class:`ActionsProcesses` starts N-1 :mod:`spur.worker.actions_process`
children (spawned: no state of the parent's threads or event loop is
inherited). Their measurements come back over one queue and are recorded
into this process's metrics, so the worker's one /metrics counts all of
them. A child that exits while the worker runs (a crash, a kill -9) is
started again after a pause and one log line; its partitions meanwhile go
to the group's other members. :meth:`ActionsProcesses.stop` sends SIGTERM,
then SIGKILL after the timeout; a child also stops when its parent dies.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any

from spur.settings import Settings
from spur.store_access import StoreOpener
from spur.worker.actions_process import run_actions_process
from spur_schemas.metrics import ALL_METRICS, Metric, Metrics

log = logging.getLogger("spur.worker")

RESTART_PAUSE_SECONDS = 2.0
_SPAWN = multiprocessing.get_context("spawn")


class QueuedMetrics:
    """A child's :class:`spur_schemas.metrics.Metrics`: each measurement put on a queue."""

    def __init__(self, measurements: Any) -> None:
        self._queue = measurements

    def inc(self, metric: Metric, amount: float = 1, **labels: str) -> None:
        self._queue.put(("inc", metric.name, amount, labels))

    def set(self, metric: Metric, value: float, **labels: str) -> None:
        self._queue.put(("set", metric.name, value, labels))

    def observe(self, metric: Metric, value: float, **labels: str) -> None:
        self._queue.put(("observe", metric.name, value, labels))

    def declare(self, metrics: tuple[Metric, ...]) -> None:
        return  # the parent declares every metric


def record(metrics: Metrics, measurement: tuple[str, str, float, Mapping[str, str]]) -> None:
    """Replay one child's measurement into ``metrics``; an unknown one is dropped."""
    kind, name, value, labels = measurement
    metric = _BY_NAME.get(name)
    if metric is None or kind not in ("inc", "set", "observe"):
        return
    getattr(metrics, kind)(metric, value, **labels)


_BY_NAME = {metric.name: metric for metric in ALL_METRICS}


class ActionsProcesses:
    def __init__(
        self, settings: Settings, count: int, metrics: Metrics, open_store: StoreOpener
    ) -> None:
        self._settings = settings
        self._open_store = open_store
        self._count = count
        self._metrics = metrics
        self._queue: Any = _SPAWN.Queue()
        self._children: list[Any] = []
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._children = [self._spawn() for _ in range(self._count)]
        for target in (self._record_measurements, self._restart_exited):
            thread = threading.Thread(target=target, daemon=True, name=target.__name__)
            thread.start()
            self._threads.append(thread)

    def _spawn(self) -> Any:
        child = _SPAWN.Process(
            target=run_actions_process,
            args=(self._settings, QueuedMetrics(self._queue), os.getpid(), self._open_store),
            name="spur-actions",
        )
        child.start()
        return child

    def _record_measurements(self) -> None:
        while not self._stopping.is_set():
            try:
                measurement = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            record(self._metrics, measurement)

    def _restart_exited(self) -> None:
        while not self._stopping.wait(0.5):
            for n, child in enumerate(self._children):
                if child.exitcode is None:
                    continue
                log.warning(
                    "actions process %d exited (code %s); starting another in %.0f s",
                    child.pid, child.exitcode, RESTART_PAUSE_SECONDS,
                )  # fmt: skip
                if self._stopping.wait(RESTART_PAUSE_SECONDS):
                    return
                self._children[n] = self._spawn()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every child, SIGKILL what still runs after ``timeout``; idempotent."""
        self._stopping.set()
        for thread in self._threads:
            thread.join()
        for child in self._children:
            if child.exitcode is None:
                child.terminate()
        deadline = time.monotonic() + timeout
        for child in self._children:
            child.join(max(0.0, deadline - time.monotonic()))
            if child.exitcode is None:
                child.kill()
                child.join()
