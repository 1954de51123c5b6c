"""What one batch holds in memory, step by step, without Kafka or a store.

Run: ``.venv/bin/python -m bench.memory [--batch N]``. The worker's own batch
step (spur.worker.batch.batch_steps) runs one batch over bench.steps's
in-memory store under ``tracemalloc``; after each step (the batch's own laps,
``spur_batch_step_seconds``) it prints the Python memory the batch holds and
the peak the step reached, in MB above the batch's messages. A worker holds
this beside its consumer's records, the interpreter and its modules
(``worker_peak_anonymous_rss_mb`` of bench.worker is the whole process).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tracemalloc
from typing import Any

from bench.local import stop_on_sigterm
from bench.steps import PARTITIONS, EncodingStore, StepTimes
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.settings import Settings
from spur.worker.batch import batch_steps
from spur_schemas.metrics import Metric
from spur_schemas.topics import Topic
from spur_schemas.validate import encode
from spur_streams.batch import Message

MB = 1e6


class MemoryLaps(StepTimes):
    """After each step: the memory the batch holds and the step's peak, from ``base``."""

    def __init__(self) -> None:
        super().__init__()
        self.base = 0
        self.laps: dict[str, dict[str, float]] = {}

    def observe(self, metric: Metric, value: float, **labels: str) -> None:
        if "step" in labels:
            held, peak = tracemalloc.get_traced_memory()
            self.laps[labels["step"]] = {
                "held_mb": round((held - self.base) / MB, 1),
                "peak_mb": round((peak - self.base) / MB, 1),
            }
            tracemalloc.reset_peak()


def main() -> None:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=Settings().worker.batch_size)
    args = parser.parse_args()
    shape = WorkloadShape(customers=500, sessions_per_customer=args.batch // 2500 + 1, days=1)
    actions = simulate_actions(shape)[: args.batch]
    now = max(a.ended_at for a in actions) + dt.timedelta(seconds=1)
    messages = [
        Message(Topic.ACTIONS.value, n % PARTITIONS, n // PARTITIONS, encode(a))
        for n, a in enumerate(actions)
    ]
    laps = MemoryLaps()
    batch = batch_steps(EncodingStore(), Settings(), laps)
    del actions
    tracemalloc.start()
    laps.base = tracemalloc.get_traced_memory()[0]
    batch.process_actions(messages, now)
    tracemalloc.stop()
    figures: dict[str, Any] = {
        "batch": len(messages),
        "message_bytes_mb": round(sum(len(m.value) for m in messages) / MB, 1),
        "after_step_mb": laps.laps,
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
