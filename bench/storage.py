"""Store benchmark: rows/s into the embedded store, bytes per stored action.

Run: ``.venv/bin/python -m bench.storage [--actions N]``. In one run on this
machine it measures:

- ``raw_insert_rows_per_second``: ``actions`` rows inserted in 50,000-row
  columnar blocks (the sink's write alone);
- ``pipeline_rows_per_second``: the whole per-batch step without Kafka
  (validate, dedup lookup, privacy, raw + id + window writes);
- ``bytes_per_action_row``: compressed bytes per ``actions`` row on disk
  after merges, for realistic simulated data, and per column.
Prints JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

from bench.local import local_store, stop_on_sigterm, writer
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.local_state import RunningStore
from spur.settings import Settings
from spur.worker.batch import batch_steps
from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_schemas.topics import Topic
from spur_schemas.validate import encode
from spur_sinks.actions import action_columns
from spur_sinks.migrate import apply_migrations
from spur_streams.batch import Message

BLOCK = 50_000
# The worker's partitions: SPUR_TOPIC_PARTITIONS (its default when unset).
PARTITIONS = Settings().broker.topic_partitions


def raw_inserts(running: RunningStore, actions: list[Action]) -> dict[str, object]:
    """Rows/s of inserting ``actions`` alone into ``actions``, and their bytes on disk."""
    raw = writer(running, "raw_only")
    apply_migrations(raw, Settings().retention.tables)
    started = time.perf_counter()
    for start in range(0, len(actions), BLOCK):
        block = actions[start : start + BLOCK]
        located = [Located(a, a.customer_id % PARTITIONS, start + n) for n, a in enumerate(block)]
        raw.insert("actions", action_columns(located))
    insert_rate = len(actions) / (time.perf_counter() - started)
    raw.execute("OPTIMIZE TABLE raw_only.actions FINAL")
    (size,) = raw.query(
        "SELECT sum(data_compressed_bytes) AS bytes, sum(rows) AS rows FROM system.parts "
        "WHERE database = 'raw_only' AND table = 'actions' AND active"
    )
    # Per column (known for wide parts, which a table this size has).
    by_column = {
        row["name"]: round(int(row["bytes"]) / int(size["rows"]), 2)
        for row in raw.query(
            "SELECT name, data_compressed_bytes AS bytes FROM system.columns "
            "WHERE database = 'raw_only' AND table = 'actions' ORDER BY bytes DESC"
        )
    }
    return {
        "raw_insert_rows_per_second": round(insert_rate),
        "bytes_per_action_row": round(int(size["bytes"]) / int(size["rows"]), 2),
        "bytes_per_action_row_by_column": by_column,
    }


def pipeline_rate(running: RunningStore, actions: list[Action]) -> float:
    """Rows/s of the worker's batch steps storing ``actions`` (every table they write)."""
    piped = writer(running, "pipeline")
    apply_migrations(piped, Settings().retention.tables)
    pipeline = batch_steps(piped, Settings())
    messages = [
        Message(Topic.ACTIONS.value, a.customer_id % PARTITIONS, n, encode(a))
        for n, a in enumerate(actions)
    ]
    now = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    for start in range(0, len(messages), 20_000):
        pipeline.process_actions(messages[start : start + 20_000], now)
    return len(messages) / (time.perf_counter() - started)


def main() -> None:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=500_000)
    args = parser.parse_args()
    customers = 500
    shape = WorkloadShape(
        customers=customers, sessions_per_customer=max(1, args.actions // (customers * 5)), days=28
    )
    actions = simulate_actions(shape)[: args.actions]
    with (
        tempfile.TemporaryDirectory(prefix="spur-bench-") as tmp,
        local_store(Path(tmp), "raw_only", "pipeline") as running,
    ):
        raw = raw_inserts(running, actions)
        piped = pipeline_rate(running, actions)
    figures = {
        "actions": len(actions),
        "raw_insert_rows_per_second": raw.pop("raw_insert_rows_per_second"),
        "pipeline_rows_per_second": round(piped),
        **raw,
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
