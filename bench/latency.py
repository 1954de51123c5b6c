"""Latency benchmark: from emission to queryable, at a fixed 5,000 actions/s.

Run: ``.venv/bin/python -m bench.latency [--rate 5000] [--seconds 20] [--warmup-seconds 10]``.
Starts a real local broker and ``spur worker``, publishes actions at a fixed
rate (the first ``--warmup-seconds`` not measured: a freshly started broker
spends them compiling its hot paths, twice the CPU per message of a warm
one), and for every 100th action measures the time from its publication
until a query finds it in the store's ``action_ids`` (the dedup index, which
the batch's fold writes after the raw row).
Prints JSON with p50/p99/max in milliseconds and the rate achieved, and
where the time went over the same run: the worker's batches (how many, how
many actions each, the mean milliseconds of each step per batch, from its
``spur_batch_step_seconds``) and the CPU of the worker, the store, the
broker (bench.cpu; this benchmark's own publishing and polling is in
``other_processes``).

A sample's time is taken when the query that first found it was sent (the
store answers from the parts it held then), so polling adds no more than
its interval (``POLL_SECONDS``) to a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.cpu import cpu_use, figures, sample
from bench.fleet import read_counters
from bench.local import local_store, stop_on_sigterm
from spur.client import Publisher
from spur.client.kafka import KafkaTarget
from spur.dev.broker import LocalBroker
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.local_state import RunningStore
from spur.settings import Settings, parse_store_url
from spur.topics import ensure_topics, topic_specs
from spur.worker.launch import start_worker, worker_env
from spur_sinks.store import ServerStore

SAMPLE_EVERY = 100
POLL_SECONDS = 0.05


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def poll(
    store: ServerStore, emitted: dict[str, float], seen: dict[str, float], done: asyncio.Event
) -> None:
    """Note in ``seen`` when each id of ``emitted`` is first found, until ``done``
    and every one was found."""
    while not done.is_set() or len(seen) < len(emitted):
        pending = [i for i in emitted if i not in seen]
        if pending:
            ids = ",".join(f"'{i}'" for i in pending)
            asked = time.perf_counter()
            # action_ids is keyed by id (a point lookup, not a scan of actions)
            # and is written in the same batch step, right after the row.
            rows = await asyncio.to_thread(
                store.query,
                f"SELECT toString(action_id) AS id FROM spur.action_ids WHERE action_id IN ({ids})",
            )
            for row in rows:
                seen.setdefault(row["id"], asked)
        await asyncio.sleep(POLL_SECONDS)


@dataclass(frozen=True)
class Pace:
    rate: int  # actions per second
    seconds: int  # measured
    warmup_seconds: int  # published at the same rate before, not measured


async def run(
    bootstrap: KafkaTarget, running: RunningStore, pace: Pace, cpu_of: dict[str, int], state: Path
) -> dict[str, object]:
    """Publish at ``pace``; the latencies of the measured part, and the CPU and the
    worker's batches (``state``: its state directory) over that part alone."""
    total = pace.rate * (pace.warmup_seconds + pace.seconds)
    shape = WorkloadShape(customers=200, sessions_per_customer=total // 1000 + 1, days=0.05)
    actions = simulate_actions(shape)[:total]
    measured_from = pace.rate * pace.warmup_seconds
    store = ServerStore(parse_store_url(running.url()), 30.0)
    emitted: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = asyncio.Event()
    async with Publisher(bootstrap, linger_ms=5) as publisher:
        await publisher.publish(actions[0])  # connection, worker assignment
        await publisher.flush()
        await asyncio.sleep(5)
        poller = asyncio.create_task(poll(store, emitted, seen, done))
        started = time.perf_counter()
        for n, action in enumerate(actions):
            if n == measured_from:
                cpu_at_start = sample(cpu_of)
                counters_at_start = await asyncio.to_thread(read_counters, state)
                measuring = time.perf_counter()
            delay = started + n / pace.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await publisher.publish(action)
            if n >= measured_from and n % SAMPLE_EVERY == 0:
                emitted[str(action.action_id)] = time.perf_counter()
        achieved = (total - measured_from) / (time.perf_counter() - measuring)
        cpu = cpu_use(cpu_at_start, sample(cpu_of), os.cpu_count() or 1)
        done.set()
        await asyncio.wait_for(poller, 60)
    counters = await asyncio.to_thread(read_counters, state)
    latencies = [(seen[i] - emitted[i]) * 1000 for i in emitted]
    return {
        "rate_target_per_second": pace.rate,
        "rate_achieved_per_second": round(achieved),
        "warmup_seconds": pace.warmup_seconds,
        "samples": len(latencies),
        "p50_ms": round(percentile(latencies, 0.50)),
        "p99_ms": round(percentile(latencies, 0.99)),
        "max_ms": round(max(latencies)),
        **figures(cpu),
        **batch_figures(
            {name: value - counters_at_start.get(name, 0.0) for name, value in counters.items()}
        ),
    }


def batch_figures(counters: dict[str, float]) -> dict[str, object]:
    """The worker's actions batches: how many, their mean size, each step's mean ms."""
    batches = counters.get('spur_batch_seconds_count{topic="spur.actions.v1"}', 0.0)
    read = counters.get('spur_events_in_total{topic="spur.actions.v1"}', 0.0)
    steps = {
        name.split('step="', 1)[1].split('"', 1)[0]: value
        for name, value in counters.items()
        if name.startswith("spur_batch_step_seconds_sum{") and "spur.actions.v1" in name
    }
    per_batch = {step: round(1000 * s / batches, 1) for step, s in steps.items()} if batches else {}
    return {
        "worker_batches": round(batches),
        "actions_per_batch": round(read / batches) if batches else 0,
        "batch_step_ms_mean": dict(sorted(per_batch.items(), key=lambda kv: -kv[1])),
    }


def main() -> None:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=5_000)
    parser.add_argument("--seconds", type=int, default=20, help="measured")
    parser.add_argument(
        "--warmup-seconds", type=int, default=10,
        help="published at the same rate first, not measured (the broker's JIT, the store's "
        "first merges, the worker's first batches)",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spur-bench-") as tmp:
        workdir = Path(tmp)
        broker = LocalBroker(data_dir=workdir / "kafka")
        broker.start()
        worker = None
        try:
            with local_store(workdir / "store") as running:
                asyncio.run(ensure_topics(broker.target, topic_specs(Settings())))
                env = worker_env(
                    broker.target, workdir, running.url(), SPUR_CONSUMER_GROUP="latency"
                )
                worker = start_worker(env, workdir / "worker.log")
                assert broker.process is not None  # started
                # This process's own CPU (publishing, polling) is in other_processes:
                # the store is its child, so its tree would count the store twice.
                cpu_of = {"worker": worker.pid, "store": running.pid, "broker": broker.process.pid}
                pace = Pace(args.rate, args.seconds, args.warmup_seconds)
                state = workdir / "state"  # worker_env's SPUR_STATE_DIR
                result = asyncio.run(run(broker.target, running, pace, cpu_of, state))
                worker.stop()
                worker = None
        finally:
            if worker is not None:
                worker.stop()
            broker.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
