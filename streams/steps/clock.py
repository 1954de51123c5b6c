"""Seconds per step of one batch: where a batch's time goes, in production too.

Each lap is observed as ``spur_batch_step_seconds{topic, step}`` (a
histogram); bench/steps.py reads the same laps over in-memory stores to print
the Python cost of each step per action. Pure apart from the metrics; one
``perf_counter`` call per step and batch (and a few per slice of a batch
whose steps build a later step's rows early: :meth:`StepClock.carry`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from spur_schemas.metrics import BATCH_SECONDS, BATCH_STEP_SECONDS, Metrics


class StepClock:
    """Laps of one batch's steps, started at construction."""

    def __init__(self, metrics: Metrics, topic: str) -> None:
        self._metrics = metrics
        self._topic = topic
        self._started = self._last = time.perf_counter()
        self._carried: dict[str, float] = {}  # seconds of later steps, measured early
        self._left_out = 0.0  # of the current lap: carried to later steps

    def carry(self, seconds: Mapping[str, float]) -> None:
        """Seconds measured inside the current lap that were the named (later) steps':
        the current lap leaves them out, each step's own lap adds them (a batch's
        slices build what a later step stores, spur_streams.steps.decide)."""
        for step, spent in seconds.items():
            self._carried[step] = self._carried.get(step, 0.0) + spent
            self._left_out += spent

    def lap(self, step: str) -> float:
        """The time since the previous lap (or the start) was ``step``'s; returned."""
        now = time.perf_counter()
        seconds = now - self._last - self._left_out + self._carried.pop(step, 0.0)
        self._left_out = 0.0
        self._metrics.observe(BATCH_STEP_SECONDS, seconds, topic=self._topic, step=step)
        self._last = now
        return seconds

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.perf_counter() - self._started

    def done(self, before: float = 0.0) -> None:
        """The whole batch, and ``before`` seconds it took elsewhere: ``spur_batch_seconds``."""
        elapsed = time.perf_counter() - self._started + before
        self._metrics.observe(BATCH_SECONDS, elapsed, topic=self._topic)
