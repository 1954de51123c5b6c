"""``spur demo``: the whole pipeline on one machine, then everything stopped.

Starts a real Kafka broker and a ``spur worker`` subprocess on an embedded
store in a temporary directory, publishes simulated app-server traffic and
a few malformed events, waits until every message is committed (offsets are
committed only after the store accepted them), stops the worker and prints
billing from the store. Every process it starts is stopped again, also when
it fails or is interrupted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka.errors import KafkaError
from rich.console import Console

from sinks.store import open_store
from spur.billing import billing
from spur.broker import consumer_lag
from spur.cli import billing_table
from spur.client import Publisher
from spur.deadletters import count_by_reason, read_dead_letters
from spur.devbroker import LocalBroker, stop_pid
from spur.settings import Settings, parse_store_url
from spur.simulate import WorkloadShape, simulate_actions
from spur.topics import Topic, ensure_topics, topic_specs

BAD_EVENTS = (
    b"{not json",
    b"[1, 2, 3]",
    b'{"action_id": "0b4f6c1e-0000-4000-8000-000000000001", "document_title": "Q3 salaries"}',
)


class DemoError(RuntimeError):
    pass


@dataclass(frozen=True)
class DemoOptions:
    customers: int = 8
    sessions: int = 40
    keep: bool = False
    timeout_seconds: float = 120.0


def run_demo(settings: Settings, options: DemoOptions) -> None:
    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="spur-demo-"))
    broker = LocalBroker(
        data_dir=workdir / "broker", version=settings.kafka_version, cache_dir=settings.cache_dir
    )
    worker: subprocess.Popen[bytes] | None = None
    succeeded = False
    try:
        with console.status("starting Kafka broker (the first run downloads its jars)..."):
            broker.start()
        console.print(f"[green]✓[/] Kafka {broker.version} at {broker.bootstrap}")
        asyncio.run(ensure_topics(broker.bootstrap, topic_specs(settings)))
        worker = _start_worker(workdir, broker.bootstrap)
        console.print(f"[green]✓[/] worker started (pid {worker.pid}), store {workdir / 'chdb'}")

        now = dt.datetime.now(dt.UTC)
        month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        shape = WorkloadShape(
            customers=options.customers,
            sessions_per_customer=options.sessions,
            month_start=month_start,
            days=max(1, (now - month_start).days),
        )
        with console.status("simulated app servers publishing actions..."):
            sent = asyncio.run(_publish(broker.bootstrap, shape))
        console.print(f"[green]✓[/] published {sent:,} actions and {len(BAD_EVENTS)} bad events")

        _wait_until_processed(
            console,
            broker.bootstrap,
            settings.consumer_group,
            worker=worker,
            worker_log=workdir / "worker.log",
            timeout=options.timeout_seconds,
        )
        rejected = count_by_reason(asyncio.run(read_dead_letters(broker.bootstrap)))
        stop_pid(worker.pid, timeout=30, wait=worker.wait)
        worker = None

        store = open_store(parse_store_url(f"chdb://{workdir / 'chdb'}"))
        try:
            usage = billing(store, month_start.strftime("%Y-%m"))
            stored = store.query(f"SELECT count() AS n FROM {store.database}.actions FINAL")[0]["n"]
        finally:
            store.close()
        console.print(
            billing_table([u.as_dict() for u in usage], month_start.strftime("%Y-%m"), "UTC")
        )
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(rejected.items()))
        console.print(f"actions stored: {stored:,} of {sent:,} published")
        console.print(
            f"dead letters ({Topic.DEADLETTER.value}): {rejected.total()} of "
            f"{len(BAD_EVENTS)} bad events sent ({reasons or 'none'})"
        )
        succeeded = True
    finally:
        if worker is not None:
            stop_pid(worker.pid, timeout=30, wait=worker.wait)
        broker.stop()
        if options.keep or not succeeded:
            console.print(f"demo files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        console.print("[green]✓[/] stopped the worker and the broker")


def _start_worker(workdir: Path, bootstrap: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SPUR_KAFKA_BOOTSTRAP": bootstrap,
        "SPUR_CLICKHOUSE_URL": f"chdb://{workdir / 'chdb'}",
        "SPUR_STATE_DIR": str(workdir / "state"),
    }
    with (workdir / "worker.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "spur", "worker"],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip


async def _publish(bootstrap: str, shape: WorkloadShape) -> int:
    sent = 0
    async with Publisher(bootstrap) as publisher:
        for action in simulate_actions(shape):
            await publisher.publish(action)
            sent += 1
        for raw in BAD_EVENTS:
            await publisher.publish_raw(Topic.ACTIONS.value, raw, key=b"0")
    return sent


def _wait_until_processed(
    console: Console,
    bootstrap: str,
    group: str,
    *,
    worker: subprocess.Popen[bytes],
    worker_log: Path,
    timeout: float,
) -> None:
    """Wait until ``group`` committed every action, i.e. the store has them all."""
    deadline = time.monotonic() + timeout
    with console.status("pipeline storing events...") as status:
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                tail = worker_log.read_text(errors="replace")[-3000:]
                raise DemoError(f"the worker exited with code {worker.returncode}:\n{tail}")
            try:
                lag = asyncio.run(consumer_lag(bootstrap, group, [Topic.ACTIONS.value]))
            except KafkaError as exc:
                if not exc.retriable:  # e.g. the group coordinator is still being elected
                    raise
                lag = {}
            remaining = sum(lag.values())
            if lag and remaining == 0:
                console.print("[green]✓[/] pipeline caught up: every message committed")
                return
            status.update(f"pipeline storing events... {remaining:,} messages to go")
            time.sleep(0.5)
    raise DemoError(f"the pipeline did not catch up within {timeout:.0f} s; see {worker_log}")
