"""The batch step's Python cost per action, step by step, without Kafka or a store.

Run: ``.venv/bin/python -m bench.steps [--actions N] [--batch N]``. The
worker's own wiring (spur.worker.batch.batch_steps: the real steps and the
real sinks) runs over :class:`EncodingStore`, an in-memory store connection
that encodes every insert as the server connection does
(spur_sinks.json_columns) and answers every query with no rows: every
action is new, nobody erased anything. What remains is the Python work the
worker does per action; the store's and the driver's time are not in it
(bench.storage and bench.worker measure those).

The laps are the batch's own (spur_streams.steps.clock: ``spur_batch_step_seconds``,
which a running worker exports too). Prints JSON: µs per action per step and
in all, and the rate one core would reach on this work alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from bench.local import stop_on_sigterm
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.settings import Settings
from spur.worker.batch import batch_steps
from spur.worker.tuning import tune_interpreter
from spur_schemas.metrics import BATCH_STEP_SECONDS, Metric
from spur_schemas.topics import Topic
from spur_schemas.validate import encode
from spur_sinks.json_columns import json_columns
from spur_sinks.store import Columns
from spur_sinks.url import ReadLimits
from spur_streams.batch import Message

# The worker's partitions: SPUR_TOPIC_PARTITIONS (its default when unset).
PARTITIONS = Settings().broker.topic_partitions


class EncodingStore:
    """A store connection that encodes inserts like the server one and stores nothing."""

    database = "spur"

    def __init__(self) -> None:
        self.encoded_bytes = 0

    def execute(self, sql: str) -> None:
        return

    def query(self, sql: str, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        if keys is not None:  # the probe table's column travels encoded too
            self.encoded_bytes += len(json_columns({"key": list(keys)}))
        return []

    def stream(self, sql: str, deadline_seconds: float) -> Iterator[dict[str, Any]]:
        return iter(self.query(sql))

    def read_only(self, limits: ReadLimits | None = None) -> None:
        return

    def insert(self, table: str, columns: Columns, *, dedup_token: str | None = None) -> None:
        self.encoded_bytes += len(json_columns(columns))

    def close(self) -> None:
        return


class StepTimes:
    """A Metrics that sums the batch's step laps (and ignores everything else)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def inc(self, metric: Metric, amount: float = 1, **labels: str) -> None:
        return

    def set(self, metric: Metric, value: float, **labels: str) -> None:
        return

    def observe(self, metric: Metric, value: float, **labels: str) -> None:
        if metric is BATCH_STEP_SECONDS:
            self.seconds[labels["step"]] += value

    def declare(self, metrics: tuple[Metric, ...]) -> None:
        return


def per_action_us(seconds: Mapping[str, float], actions: int) -> dict[str, float]:
    """Each step's µs per action, slowest first, and their sum as ``total``."""
    steps = {step: 1e6 * s / actions for step, s in seconds.items()}
    ordered = dict(sorted(steps.items(), key=lambda item: -item[1]))
    return {**{k: round(v, 2) for k, v in ordered.items()}, "total": round(sum(steps.values()), 2)}


def main() -> None:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=200_000)
    parser.add_argument(
        "--batch", type=int, default=Settings().worker.batch_size, help="messages per batch"
    )
    args = parser.parse_args()
    customers = 500
    shape = WorkloadShape(
        customers=customers, sessions_per_customer=max(1, args.actions // (customers * 5)), days=1
    )
    actions = simulate_actions(shape)[: args.actions]
    messages = [
        Message(Topic.ACTIONS.value, n % PARTITIONS, n // PARTITIONS, encode(a))
        for n, a in enumerate(actions)
    ]
    tune_interpreter()  # as every worker process runs its batches (garbage collection)
    times = StepTimes()
    store = EncodingStore()
    batch = batch_steps(store, Settings(), times)
    now = max(a.ended_at for a in actions) + dt.timedelta(seconds=1)
    started = time.process_time()
    for start in range(0, len(messages), args.batch):
        batch.process_actions(messages[start : start + args.batch], now)
    cpu = time.process_time() - started
    steps = per_action_us(times.seconds, len(messages))
    print(
        json.dumps(
            {
                "actions": len(messages),
                "batch": args.batch,
                "us_per_action_by_step": steps,
                "us_per_action_cpu": round(1e6 * cpu / len(messages), 2),
                "one_core_actions_per_second": round(len(messages) / cpu),
                "encoded_bytes_per_action": round(store.encoded_bytes / len(messages), 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
