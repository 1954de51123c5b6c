"""``spur demo``: the whole pipeline on one machine, then everything stopped.

Starts a real Kafka broker, a local ClickHouse store (spur.dev.local_store) and a
``spur worker`` subprocess in a temporary directory; simulated app servers publish a month of
sessions (chains of triggered actions, some re-sent, a few malformed
events) and web traffic. Once every message is committed (offsets are
committed only after the store accepted them), it reads billing, one
session's trace and the dead letters from the store while the worker runs,
as a read-only user, shows the worker's own figures from ``/metrics``, and
stops everything it started, also when it fails or is interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka.errors import KafkaError
from rich.console import Console

from spur.broker import consumer_lag
from spur.client import Publisher
from spur.client.kafka import KafkaTarget
from spur.dev.broker import LocalBroker
from spur.dev.demo_report import DemoError, Published, report
from spur.dev.local_store import LocalStore
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.render import console as stdout_console
from spur.settings import Settings
from spur.topics import ensure_topics, topic_specs
from spur.worker.launch import WorkerProcess, start_worker, worker_env
from spur_schemas.events import WebRequest
from spur_schemas.topics import INPUT_TOPICS, Topic

BAD_EVENTS = (
    b"{not json",
    b"[1, 2, 3]",
    b'{"action_id": "0b4f6c1e-0000-4000-8000-000000000001", "document_title": "Q3 salaries"}',
)


@dataclass(frozen=True)
class DemoOptions:
    customers: int = 8
    sessions: int = 40
    keep: bool = False
    timeout_seconds: float = 150.0


def run_demo(settings: Settings, options: DemoOptions) -> None:
    console = stdout_console()
    workdir = Path(tempfile.mkdtemp(prefix="spur-demo-"))
    broker = LocalBroker(
        data_dir=workdir / "broker",
        version=settings.broker.version,
        cache_dir=settings.local.cache_dir,
    )
    local_store = LocalStore(workdir / "store")
    worker: WorkerProcess | None = None
    succeeded = False
    started = time.monotonic()
    library_log = _log_libraries_to(workdir / "demo.log")
    try:
        with console.status("starting Kafka broker (the first run downloads its jars)..."):
            broker.start()
        console.print(f"[green]✓[/] Kafka {broker.version} at {broker.bootstrap} (SCRAM login)")
        with console.status("starting the local ClickHouse store..."):
            store = local_store.start()
        console.print(f"[green]✓[/] ClickHouse store at 127.0.0.1:{store.port} ({workdir})")
        asyncio.run(ensure_topics(broker.target, topic_specs(settings)))
        worker = start_worker(
            worker_env(broker.target, workdir, store.url()), workdir / "worker.log"
        )
        console.print(f"[green]✓[/] worker started (pid {worker.pid})")

        month, shape = _demo_month(options, dt.datetime.now(dt.UTC))
        with console.status("simulated app servers publishing..."):
            sent = asyncio.run(_publish(broker.target, shape))
        console.print(
            f"[green]✓[/] app servers published {sent.actions:,} actions "
            f"({sent.resent} of them twice), {sent.web} web requests and "
            f"{len(BAD_EVENTS)} malformed events"
        )
        _wait_until_processed(
            console,
            broker.target,
            settings.broker.consumer_group,
            worker=worker,
            worker_log=workdir / "worker.log",
            timeout=options.timeout_seconds,
        )
        report(console, workdir / "state", store, month, sent)
        worker.stop()
        worker = None
        succeeded = True
    finally:
        if worker is not None:
            worker.stop()
        broker.stop()
        local_store.stop()
        library_log.close()
        if options.keep or not succeeded:
            console.print(f"demo files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        console.print(
            f"[green]✓[/] stopped the worker, the store and the broker "
            f"({time.monotonic() - started:.0f} s in all)"
        )


def _demo_month(options: DemoOptions, now: dt.datetime) -> tuple[str, WorkloadShape]:
    """The month the demo bills and the traffic it simulates in it.

    Traffic up to an hour ago (sessions run on for minutes, and an event from
    beyond the allowed clock skew is a future_timestamp dead letter), in the
    month that hour belongs to, a day of it at least.
    """
    until = now - dt.timedelta(hours=1)
    month_start = (until - dt.timedelta(days=1)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    month_end = (month_start + dt.timedelta(days=32)).replace(day=1)
    shape = WorkloadShape(
        customers=options.customers,
        sessions_per_customer=options.sessions,
        month_start=month_start,
        days=(min(until, month_end) - month_start).total_seconds() / 86400 - 0.1,
    )
    return month_start.strftime("%Y-%m"), shape


def _log_libraries_to(path: Path) -> contextlib.ExitStack:
    """Send the libraries' log records to ``path``; close the stack to undo.

    aiokafka warns about each produce it retries transparently (a
    NotLeaderForPartitionError while a new topic's leader settles): noise in
    the demo's output, but kept in ``demo.log`` (the demo's directory stays on
    failure or with --keep). Errors reach the console through the handler the
    CLI's root group installs (spur.cli.main), the demo's only caller.
    """
    root = logging.getLogger()
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(to_file)
    undo = contextlib.ExitStack()
    # Run last-in first-out: the handler is removed, then closed, then the level restored.
    undo.callback(root.setLevel, root.level)
    undo.callback(to_file.close)
    undo.callback(root.removeHandler, to_file)
    root.setLevel(logging.INFO)
    return undo


async def _publish(bootstrap: KafkaTarget, shape: WorkloadShape) -> Published:
    actions = simulate_actions(shape)
    resent = actions[::50]  # an app server re-sending after a timeout: same ids
    async with Publisher(bootstrap) as publisher:
        for action in actions + resent:
            await publisher.publish(action)
        for n, action in enumerate(actions[::3]):
            await publisher.publish(
                WebRequest(
                    request_id=uuid.uuid4(),
                    ts=action.started_at,
                    path=f"/app/{action.action.replace('.', '/')}?session={action.session_id}",
                    bytes_sent=action.bytes_out,
                    user_agent="Mozilla/5.0 (demo)",
                    client_ip=action.client_ip,
                    status=500 if action.status == "error" else 200,
                    host=f"app-{n % 3 + 1}.example",
                )
            )
        for raw in BAD_EVENTS:
            await publisher.publish_raw(Topic.ACTIONS.value, raw, key=b"0")
    chained = next(a for a in actions if a.parent_action_id is not None)
    return Published(len(actions), len(resent), len(actions[::3]), chained.session_id)


def _wait_until_processed(
    console: Console,
    bootstrap: KafkaTarget,
    group: str,
    *,
    worker: subprocess.Popen[bytes],
    worker_log: Path,
    timeout: float,
) -> None:
    """Wait until ``group`` committed every input message, i.e. the store has them all."""
    deadline = time.monotonic() + timeout
    topics = [t.value for t in INPUT_TOPICS]
    with console.status("pipeline storing events...") as status:
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                tail = worker_log.read_text(errors="replace")[-3000:]
                raise DemoError(f"the worker exited with code {worker.returncode}:\n{tail}")
            try:
                lag = asyncio.run(consumer_lag(bootstrap, group, topics))
            except KafkaError as exc:
                if not exc.retriable:  # e.g. the group coordinator is still being elected
                    raise
                lag = {}
            remaining = sum(lag.values())
            if lag and remaining == 0:
                console.print("[green]✓[/] pipeline caught up: every message stored and committed")
                return
            status.update(f"pipeline storing events... {remaining:,} messages to go")
            time.sleep(0.5)
    raise DemoError(f"the pipeline did not catch up within {timeout:.0f} s; see {worker_log}")


__all__ = ["DemoError", "DemoOptions", "run_demo"]
