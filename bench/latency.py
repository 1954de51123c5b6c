"""Latency benchmark: from emission to queryable, at a fixed 5,000 actions/s.

Run: ``.venv/bin/python -m bench.latency [--rate 5000] [--seconds 20]``.
Starts a real local broker and ``spur worker``, publishes actions at a fixed
rate, and for every 100th action measures the time from its publication
until a query through the worker's read endpoint finds it in ``actions``.
Prints JSON with p50/p99/max in milliseconds and the rate achieved.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

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


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(
    bootstrap: KafkaTarget, running: RunningStore, rate: int, seconds: int
) -> dict[str, float]:
    shape = WorkloadShape(
        customers=200, sessions_per_customer=rate * seconds // 1000 + 1, days=0.05
    )
    actions = simulate_actions(shape)[: rate * seconds]
    store = ServerStore(parse_store_url(running.url()), 30.0)
    emitted: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = asyncio.Event()

    async def poll() -> None:
        while not done.is_set() or len(seen) < len(emitted):
            pending = [i for i in emitted if i not in seen]
            if pending:
                ids = ",".join(f"'{i}'" for i in pending)
                # action_ids is keyed by id (a point lookup, not a scan of actions)
                # and is written in the same batch step, right after the row.
                rows = await asyncio.to_thread(
                    store.query,
                    "SELECT toString(action_id) AS id FROM spur.action_ids "
                    f"WHERE action_id IN ({ids})",
                )
                now = time.perf_counter()
                for row in rows:
                    seen.setdefault(row["id"], now)
            await asyncio.sleep(0.1)

    async with Publisher(bootstrap, linger_ms=5) as publisher:
        await publisher.publish(actions[0])  # warm up: connection, worker assignment
        await publisher.flush()
        await asyncio.sleep(5)
        poller = asyncio.create_task(poll())
        started = time.perf_counter()
        for n, action in enumerate(actions):
            target = started + n / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await publisher.publish(action)
            if n % SAMPLE_EVERY == 0:
                emitted[str(action.action_id)] = time.perf_counter()
        achieved = len(actions) / (time.perf_counter() - started)
        done.set()
        await asyncio.wait_for(poller, 60)
    latencies = [(seen[i] - emitted[i]) * 1000 for i in emitted]
    return {
        "rate_target_per_second": rate,
        "rate_achieved_per_second": round(achieved),
        "samples": len(latencies),
        "p50_ms": round(percentile(latencies, 0.50)),
        "p99_ms": round(percentile(latencies, 0.99)),
        "max_ms": round(max(latencies)),
    }


def main() -> None:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=5_000)
    parser.add_argument("--seconds", type=int, default=20)
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
                figures = asyncio.run(run(broker.target, running, args.rate, args.seconds))
                worker.stop()
                worker = None
        finally:
            if worker is not None:
                worker.stop()
            broker.stop()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
