"""Client benchmark: how fast one process can emit, and what an action() block costs.

Run: ``.venv/bin/python -m bench.client [--actions N]``. Starts a real local
broker, emits N actions fire-and-forget through ``Telemetry`` and waits until
the broker acknowledged all of them. Prints JSON with:

- ``emit_per_second``: actions per second from the first emit until the last
  acknowledgement (end to end into Kafka);
- ``block_overhead_us``: microseconds of one ``with telemetry.action(...)``
  block (record + encode + buffer), measured against an empty ``with`` of a
  no-op context manager in the same run (the baseline);
- ``baseline_raw_producer_per_second``: the same number of pre-encoded
  messages through a bare aiokafka producer, same run, for the ratio.

Both log in to the broker with SCRAM-SHA-512, as every client of the local
broker does; ``--no-auth`` starts the broker without authentication instead,
to measure what the login costs (``make bench`` runs both).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer

from bench.local import stop_on_sigterm
from spur.client import Telemetry
from spur.client.kafka import KafkaTarget
from spur.client.publisher import LINGER_MS
from spur.dev.broker import LocalBroker
from spur.settings import Settings
from spur.topics import ensure_topics, topic_specs
from spur_schemas.topics import Topic

WHO = {"customer_id": 42, "login": "ann", "session_id": "s-1", "client_ip": "10.0.0.1"}


async def emit_all(telemetry: Telemetry, count: int) -> float:
    started = time.perf_counter()
    for n in range(count):
        with telemetry.action("document.open", **WHO) as action:  # type: ignore[arg-type]
            action.bytes_out = n
        if n % 1000 == 999:
            await asyncio.sleep(0)  # let the sender run, as between requests
    return time.perf_counter() - started


async def wait_delivered(telemetry: Telemetry) -> None:
    await telemetry.close(drain_seconds=120)


def block_overhead_us(telemetry: Telemetry, count: int) -> tuple[float, float]:
    nothing = contextlib.nullcontext()
    started = time.perf_counter()
    for _ in range(count):
        with nothing:
            pass
    baseline = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(count):
        with telemetry.action("document.open", **WHO):  # type: ignore[arg-type]
            pass
    spent = time.perf_counter() - started
    return spent / count * 1e6, baseline / count * 1e6


async def raw_producer(bootstrap: KafkaTarget, count: int, value: bytes) -> float:
    producer = AIOKafkaProducer(
        **bootstrap.client_kwargs(), compression_type="zstd", linger_ms=LINGER_MS, acks="all"
    )
    await producer.start()
    try:
        started = time.perf_counter()
        for n in range(count):
            await producer.send(Topic.ACTIONS.value, value, key=str(n % 200).encode())
        await producer.flush()
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def run(bootstrap: KafkaTarget, spool: Path, count: int) -> dict[str, object]:
    await ensure_topics(bootstrap, topic_specs(Settings()))
    warm = Telemetry(bootstrap, spool / "warm", buffer_size=count + 1)
    await warm.start()
    await asyncio.sleep(2)  # connected before timing
    overhead, empty = block_overhead_us(warm, 20_000)
    await warm.close()

    telemetry = Telemetry(bootstrap, spool / "run", buffer_size=count + 1)
    await telemetry.start()
    await asyncio.sleep(2)
    started = time.perf_counter()
    emit_seconds = await emit_all(telemetry, count)
    await wait_delivered(telemetry)
    total = time.perf_counter() - started
    sample = b'{"action_id":"6f1b1b9e-2c7e-4a53-9a5e-2b8c1c1f0e11","action":"document.open"}' * 4
    raw = await raw_producer(bootstrap, count, sample)
    return {
        "actions": count,
        "broker_login": bootstrap.security_protocol,
        "emit_calls_per_second": round(count / emit_seconds),
        "emit_per_second": round(count / total),
        "block_overhead_us": round(overhead, 2),
        "baseline_empty_with_us": round(empty, 3),
        "baseline_raw_producer_per_second": round(raw),
        "ratio_vs_raw_producer": round((count / total) / raw, 3),
    }


def main() -> None:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=100_000)
    parser.add_argument(
        "--no-auth", action="store_true", help="a broker without login: what the login costs"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spur-bench-") as tmp:
        broker = LocalBroker(data_dir=Path(tmp) / "kafka", authenticate=not args.no_auth)
        broker.start()
        try:
            figures = asyncio.run(run(broker.target, Path(tmp) / "spool", args.actions))
        finally:
            broker.stop()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
