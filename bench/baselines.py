"""The consumers the worker benchmark compares ``spur worker`` with, in the same run.

- :func:`raw_drain`: a bare aiokafka consumer reading the actions topic, the
  most any Kafka consumer in Python could do here;
- :func:`agents`: a Faust agent that does nothing with its batches
  (bench.faust_null), the ceiling of any agent-based pipeline, and the Quix
  Streams peer (bench.quix_peer, from its own virtualenv .venv-quix), the
  same aggregation written with another framework; with their ratios to the
  worker's rate.

Blocking: each reads the whole topic. The agents are subprocesses, stopped
by PID when drained (bench.drain.drained_rate), also on failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from bench.drain import drained_rate
from spur.broker import topic_partitions
from spur.client.kafka import KafkaTarget
from spur.worker.launch import kafka_env
from spur_schemas.topics import Topic


async def raw_drain(bootstrap: KafkaTarget, expected: int) -> float:
    admin = AIOKafkaAdminClient(**bootstrap.client_kwargs())
    await admin.start()
    partitions = await topic_partitions(admin, [Topic.ACTIONS])
    await admin.close()
    consumer = AIOKafkaConsumer(
        **bootstrap.client_kwargs(), enable_auto_commit=False, auto_offset_reset="earliest",
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


def run_faust_null(bootstrap: KafkaTarget, workdir: Path, total: int) -> float:
    """Messages/s of a Faust agent that does nothing (bench.faust_null)."""
    env = {
        **os.environ,
        **kafka_env(bootstrap),
        "FAUST_NULL_DATADIR": str(workdir / "faust-null"),
    }
    log_path = workdir / "faust-null.log"
    with log_path.open("wb") as log:
        agent = subprocess.Popen(
            [sys.executable, "-m", "faust", "-A", "bench.faust_null", "worker", "-l", "warn"],
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
    return drained_rate(agent, bootstrap, FAUST_NULL_GROUP, total, log_path).per_second


def quix_figures(quix: tuple[float, float] | None, worker_rate: float) -> dict[str, object]:
    if quix is None:
        return {"quix_peer": f"not measured: {QUIX_PYTHON} is missing (`make bench` builds it)"}
    rate, rss = quix
    return {
        "quix_peer_per_second": round(rate),
        "ratio_worker_to_quix_peer": round(worker_rate / rate, 3),
        "quix_peer_peak_rss_mb": round(rss),
    }


# The no-op agent's group; bench.faust_null imports it (importing that module
# builds its app, which reads the broker's address and login from the environment)
FAUST_NULL_GROUP = "faust-null"
REPO = Path(__file__).resolve().parent.parent
QUIX_PYTHON = REPO / ".venv-quix" / "bin" / "python"
# bench.quix_peer.CONSUMER_GROUP (that module imports quixstreams, absent from this venv)
QUIX_GROUP = "quix-peer"


def run_quix_peer(bootstrap: KafkaTarget, workdir: Path, total: int) -> tuple[float, float] | None:
    """(events/s, peak RSS MiB) of the Quix Streams peer; None if its venv is missing.

    Its login goes in the environment (bench.quix_peer reads it), not in its
    arguments, which any user of the host can read."""
    if not QUIX_PYTHON.exists():
        return None
    log_path = workdir / "quix-peer.log"
    with log_path.open("wb") as log:
        peer = subprocess.Popen(
            [str(QUIX_PYTHON), "-m", "bench.quix_peer", "--bootstrap", bootstrap.bootstrap,
             "--workdir", str(workdir / "quix")],
            cwd=REPO, stdout=log, stderr=log, env={**os.environ, **kafka_env(bootstrap)},
        )  # fmt: skip
    drained = drained_rate(peer, bootstrap, QUIX_GROUP, total, log_path)
    return drained.per_second, drained.peak_rss_mb


def agents(
    bootstrap: KafkaTarget, workdir: Path, total: int, worker_rate: float
) -> dict[str, object]:
    """The no-op Faust agent's and the Quix Streams peer's figures, beside ``worker_rate``."""
    null_agent = run_faust_null(bootstrap, workdir, total)
    return {
        "faust_null_agent_per_second": round(null_agent),
        "ratio_worker_to_faust_null_agent": round(worker_rate / null_agent, 3),
        **quix_figures(run_quix_peer(bootstrap, workdir, total), worker_rate),
    }
