"""Worker benchmark: events/s through the pipeline vs a raw aiokafka drain, same run.

Run: ``.venv/bin/python -m bench.worker [--actions N] [--span-hours H]
[--shuffle]``. Starts a real local broker, publishes N simulated actions over
H hours of event time (in event-time order, or in random order with
``--shuffle``: a backfill), then measures in the same run:

- ``raw_drain_per_second``: a bare aiokafka consumer reading the topic (the
  baseline: the most any Kafka consumer in Python could do here);
- ``worker_per_second``: ``spur worker`` (validate, dedup, store raw rows,
  fold windows, publish window states, commit) from its first committed
  progress until every message is committed; ``worker_with_start_per_second``
  includes the worker's start-up;
- ``faust_null_agent_per_second``: a Faust agent that does nothing with its
  batches (bench.faust_null), the ceiling of any agent-based pipeline here;
- ``quix_peer_per_second``: the same per-customer hourly aggregation and
  store inserts written with Quix Streams (bench.quix_peer, run from its own
  virtualenv .venv-quix);
- the ratios, and the peak RSS of the worker and the peer. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from bench import faust_null
from bench.local import local_store
from schemas.topics import Topic
from spur.broker import consumer_lag, topic_partitions
from spur.client import Publisher
from spur.dev.broker import LocalBroker
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.processes import stop_pid
from spur.settings import Settings
from spur.topics import ensure_topics, topic_specs
from spur.worker.launch import start_worker, worker_env


async def publish(bootstrap: str, count: int, span_hours: float, *, shuffle: bool) -> int:
    """Publish ``count`` simulated actions over ``span_hours`` of event time.

    In time order, as live app servers send them; with ``shuffle``, in random
    order (a backfill or re-sent spools: most actions arrive days "late").
    """
    customers = 200
    sessions = max(1, count // (customers * 5))
    shape = WorkloadShape(customers=customers, sessions_per_customer=sessions, days=span_hours / 24)
    actions = simulate_actions(shape)[:count]
    if shuffle:
        random.Random(shape.seed).shuffle(actions)  # a reproducible order
    async with Publisher(bootstrap) as publisher:
        for action in actions:
            await publisher.publish(action)
    return len(actions)


async def raw_drain(bootstrap: str, expected: int) -> float:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    partitions = await topic_partitions(admin, [Topic.ACTIONS])
    await admin.close()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024,
    )  # fmt: skip
    await consumer.start()
    try:
        consumer.assign(partitions)
        seen = 0
        started = time.perf_counter()
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=50_000)
            seen += sum(len(records) for records in batches.values())
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def lag(bootstrap: str, group: str = "bench") -> int | None:
    try:
        found = asyncio.run(consumer_lag(bootstrap, group, [Topic.ACTIONS]))
    except Exception:  # coordinator not ready yet
        return None
    return sum(found.values()) if found else None


def status_mb(pid: int, field: str) -> float:
    """One memory figure of /proc/<pid>/status (VmHWM, RssAnon, ...), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    return status_mb(pid, "VmHWM")


@dataclass(frozen=True)
class Drained:
    per_second: float  # from the first committed progress to the end (or start, if one batch)
    with_start_per_second: float  # from the process's start
    peak_rss_mb: float
    peak_anon_mb: float


def drained_rate(
    process: subprocess.Popen[bytes], bootstrap: str, group: str, total: int, log: Path
) -> Drained:
    """Poll ``group``'s lag until ``process`` committed ``total`` messages.

    ``process`` is stopped by its PID, also on failure.
    """
    started = time.perf_counter()
    peak_anon = 0.0
    try:
        first: tuple[float, int] | None = None
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited; see {log}")
            remaining = lag(bootstrap, group)
            now = time.perf_counter()
            # Anonymous memory (heap, arenas), sampled: VmHWM also counts the
            # pages of shared libraries the kernel happened to map in.
            peak_anon = max(peak_anon, status_mb(process.pid, "RssAnon"))
            if remaining is not None and remaining < total and first is None:
                first = (now, total - remaining)
            if remaining == 0:
                assert first is not None
                if first[1] < total:
                    steady = (total - first[1]) / max(now - first[0], 1e-9)
                else:  # all committed at the first sight of progress (one batch): start included
                    steady = total / (now - started)
                return Drained(steady, total / (now - started), peak_rss_mb(process.pid), peak_anon)
            time.sleep(0.2)
    finally:
        stop_pid(process.pid, timeout=30, wait=process.wait)


def run_worker(bootstrap: str, workdir: Path, total: int) -> Drained:
    with local_store(workdir / "store") as running:
        env = worker_env(bootstrap, workdir, running.url(), SPUR_CONSUMER_GROUP="bench")
        return _drain_worker(env, bootstrap, workdir, total)


def _drain_worker(env: dict[str, str], bootstrap: str, workdir: Path, total: int) -> Drained:
    log_path = workdir / "worker.log"
    return drained_rate(start_worker(env, log_path), bootstrap, "bench", total, log_path)


def run_faust_null(bootstrap: str, workdir: Path, total: int) -> float:
    """Messages/s of a Faust agent that does nothing (bench.faust_null)."""
    env = {
        **os.environ,
        "SPUR_KAFKA_BOOTSTRAP": bootstrap,
        "FAUST_NULL_DATADIR": str(workdir / "faust-null"),
    }
    log_path = workdir / "faust-null.log"
    with log_path.open("wb") as log:
        agent = subprocess.Popen(
            [sys.executable, "-m", "faust", "-A", "bench.faust_null", "worker", "-l", "warn"],
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
    return drained_rate(agent, bootstrap, faust_null.GROUP, total, log_path).per_second


def quix_figures(quix: tuple[float, float] | None, worker_rate: float) -> dict[str, object]:
    if quix is None:
        return {"quix_peer": f"not measured: {QUIX_PYTHON} is missing (`make bench` builds it)"}
    rate, rss = quix
    return {
        "quix_peer_per_second": round(rate),
        "ratio_worker_to_quix_peer": round(worker_rate / rate, 3),
        "quix_peer_peak_rss_mb": round(rss),
    }


REPO = Path(__file__).resolve().parent.parent
QUIX_PYTHON = REPO / ".venv-quix" / "bin" / "python"
# bench.quix_peer.CONSUMER_GROUP (that module imports quixstreams, absent from this venv)
QUIX_GROUP = "quix-peer"


def run_quix_peer(bootstrap: str, workdir: Path, total: int) -> tuple[float, float] | None:
    """(events/s, peak RSS MiB) of the Quix Streams peer; None if its venv is missing."""
    if not QUIX_PYTHON.exists():
        return None
    log_path = workdir / "quix-peer.log"
    with log_path.open("wb") as log:
        peer = subprocess.Popen(
            [str(QUIX_PYTHON), "-m", "bench.quix_peer", "--bootstrap", bootstrap,
             "--workdir", str(workdir / "quix")],
            cwd=REPO, stdout=log, stderr=log,
        )  # fmt: skip
    drained = drained_rate(peer, bootstrap, QUIX_GROUP, total, log_path)
    return drained.per_second, drained.peak_rss_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=200_000)
    parser.add_argument(
        "--span-hours",
        type=float,
        default=2.0,
        help="event time the actions cover: 2 h is live traffic, 672 h a month's backfill",
    )
    parser.add_argument(
        "--no-baselines",
        action="store_true",
        help="skip the no-op Faust agent and the Quix Streams peer (the raw drain always runs)",
    )
    parser.add_argument(
        "--shuffle",
        action="store_true",
        help="publish the actions in random order instead of event-time order (a backfill)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spur-bench-") as tmp:
        workdir = Path(tmp)
        broker = LocalBroker(data_dir=workdir / "kafka")
        broker.start()
        try:
            asyncio.run(ensure_topics(broker.bootstrap, topic_specs(Settings())))
            total = asyncio.run(
                publish(broker.bootstrap, args.actions, args.span_hours, shuffle=args.shuffle)
            )
            drain = asyncio.run(raw_drain(broker.bootstrap, total))
            worker = run_worker(broker.bootstrap, workdir, total)
            steady = worker.per_second
            baselines: dict[str, object] = {}
            if not args.no_baselines:
                null_agent = run_faust_null(broker.bootstrap, workdir, total)
                baselines = {
                    "faust_null_agent_per_second": round(null_agent),
                    "ratio_worker_to_faust_null_agent": round(steady / null_agent, 3),
                    **quix_figures(run_quix_peer(broker.bootstrap, workdir, total), steady),
                }
        finally:
            broker.stop()
    print(
        json.dumps(
            {
                "actions": total,
                "span_hours": args.span_hours,
                "order": "shuffled" if args.shuffle else "event time",
                "raw_drain_per_second": round(drain),
                "worker_per_second": round(steady),
                "worker_with_start_per_second": round(worker.with_start_per_second),
                "ratio_worker_to_raw_drain": round(steady / drain, 3),
                "worker_peak_rss_mb": round(worker.peak_rss_mb),
                "worker_peak_anonymous_rss_mb": round(worker.peak_anon_mb),
                **baselines,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
