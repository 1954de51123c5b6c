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
import json
import logging
import shutil
import subprocess
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka.errors import KafkaError
from rich.console import Console
from rich.table import Table

from spur.broker import consumer_lag
from spur.client import Publisher
from spur.client.kafka import KafkaTarget
from spur.dev.broker import LocalBroker
from spur.dev.local_store import LocalStore
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.local_state import RunningStore
from spur.operations.billing import billing
from spur.operations.deadletters import dead_letter_report
from spur.operations.trace import trace
from spur.render import billing_table, trace_tree
from spur.render import console as stdout_console
from spur.settings import Settings, parse_store_url
from spur.topics import ensure_topics, topic_specs
from spur.worker.launch import WorkerProcess, start_worker, worker_env
from spur_schemas.errors import SpurError
from spur_schemas.events import WebRequest
from spur_schemas.topics import INPUT_TOPICS, Topic
from spur_sinks.store import ServerStore

BAD_EVENTS = (
    b"{not json",
    b"[1, 2, 3]",
    b'{"action_id": "0b4f6c1e-0000-4000-8000-000000000001", "document_title": "Q3 salaries"}',
)
FIGURES = (
    ("spur_events_in_total", "messages read"),
    ("spur_duplicates_total", "duplicates dropped"),
    ("spur_events_rejected_total", "rejected to dead letters"),
    ("spur_window_updates_total", "usage window states written"),
    ("spur_capacity_updates_total", "capacity window states written"),
    ("spur_batch_seconds_count", "batches"),
    ("spur_batch_seconds_sum", "seconds spent in batches"),
)


class DemoError(SpurError, RuntimeError):
    pass


@dataclass(frozen=True)
class DemoOptions:
    customers: int = 8
    sessions: int = 40
    keep: bool = False
    timeout_seconds: float = 150.0


@dataclass(frozen=True)
class Published:
    actions: int
    resent: int
    web: int
    session: str


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
        _report(console, workdir / "state", store, month, sent)
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


def _report(
    console: Console, state_dir: Path, local: RunningStore, month: str, sent: Published
) -> None:
    """Billing, a trace, dead letters (as read-only users) and the worker's figures."""
    try:
        state = json.loads((state_dir / "worker.json").read_text())
    except (OSError, ValueError) as exc:
        raise DemoError(f"the worker's endpoint is gone: {exc}") from exc
    # Billing as `spur billing` reads it: the billing account (the edge quarters
    # of a month are granted to it alone); the rest as the engineer.
    as_billing = ServerStore(parse_store_url(local.url("billing")), 30.0)
    try:
        usage = billing(as_billing, month)
    finally:
        as_billing.close()
    store = ServerStore(parse_store_url(local.url("engineer")), 30.0)
    console.print(billing_table([u.as_dict() for u in usage], month, "UTC"))
    billed = sum(u.actions for u in usage)
    console.print(f"billed actions: {billed:,} = published {sent.actions:,}, re-sent ones once")

    roots = trace(store, session_id=sent.session)
    console.print(trace_tree(f"trace of session {sent.session}", roots))

    letters = dead_letter_report(store, reason=None, since=None)
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(letters["counts"].items()))
    console.print(f"dead letters: {letters['total']} ({reasons or 'none'})")

    with urllib.request.urlopen(state["metrics"], timeout=10) as response:  # noqa: S310  # loopback
        exposed = response.read().decode()
    figures = Table(title="pipeline figures (worker /metrics)")
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    for name, label in FIGURES:
        total = sum(
            float(line.rsplit(" ", 1)[1])
            for line in exposed.splitlines()
            if line.startswith(name) and (line[len(name)] in " {")
        )
        figures.add_row(label, f"{total:,.2f}" if "seconds" in label else f"{total:,.0f}")
    console.print(figures)
    store.close()


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
