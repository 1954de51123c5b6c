"""Commands that run things: demo, dev broker, worker, produce."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from spur.cli.common import (
    err,
    settings_from_env,
)
from spur_schemas.topics import Topic


@click.command()
@click.option("--customers", default=8, show_default=True, help="Simulated customers.")
@click.option("--sessions", default=40, show_default=True, help="Sessions per customer.")
@click.option("--keep", is_flag=True, help="Keep the demo's directory (logs, data) afterwards.")
def demo(customers: int, sessions: int, keep: bool) -> None:
    """Run everything locally: broker, worker, simulated app servers, billing.

    Starts a real Kafka broker and the pipeline on an embedded store in a
    temporary directory, publishes simulated traffic (with a few bad events),
    waits until the pipeline has stored it, prints the billing table and
    stops everything it started.
    """
    from spur.dev.demo import DemoOptions, run_demo

    run_demo(settings_from_env(), DemoOptions(customers=customers, sessions=sessions, keep=keep))


@click.group()
def dev() -> None:
    """A local Kafka broker and ClickHouse store for development."""


@dev.command("up")
def dev_up() -> None:
    """Start the local broker and store in the background (idempotent).

    While they run, spur commands started in this directory use them unless
    SPUR_KAFKA_BOOTSTRAP / SPUR_CLICKHOUSE_URL say otherwise. The first start
    downloads the broker's jars with Maven into ~/.cache/spur. The broker
    asks for a generated password (kept in .spur/dev-broker/data, private to
    you); the store keeps its data in .spur/store (private, passwords generated).
    """
    from spur.client.private import private_dir
    from spur.dev.broker import dev_up as start
    from spur.dev.local_store import store_up
    from spur.dev.store_engine import is_confined

    settings = settings_from_env()
    private_dir(settings.local.state_dir)
    with err.status("starting Kafka broker (the first run downloads its jars)..."):
        state, started = start(
            settings.local.broker_dir, settings.broker.version, settings.local.cache_dir
        )
    verb = "started" if started else "already running"
    click.echo(f"Kafka {state.version} {verb} at {state.bootstrap} (pid {state.pid})")
    click.echo(
        f"  SASL_PLAINTEXT, SCRAM-SHA-512: user and password in {state.data_dir}/credentials.json"
    )
    if settings.store.url is not None:
        click.echo("store: SPUR_CLICKHOUSE_URL names one; no local store started")
        return
    with err.status("starting the local ClickHouse store..."):
        store, store_started = store_up(settings.local.store_dir)
    verb = "started" if store_started else "already running"
    click.echo(
        f"ClickHouse store {verb} at 127.0.0.1:{store.port} (pid {store.pid}, "
        f"data in {settings.local.store_dir}): {store.protection}"
    )
    if not is_confined(store.protection):
        err.print(
            f"[yellow]warning:[/] the store's engine is {store.protection}: through "
            "it, any OS user of this host can read every file yours can (docs/security.md)"
        )


@dev.command("down")
def dev_down() -> None:
    """Stop the local broker and store that `spur dev up` started in this directory."""
    from spur.dev.broker import dev_down as stop
    from spur.dev.local_store import store_down

    settings = settings_from_env()
    state = stop(settings.local.broker_dir)
    click.echo(f"stopped Kafka at {state.bootstrap}" if state else "no dev broker was running")
    store = store_down(settings.local.store_dir)
    click.echo(
        f"stopped the ClickHouse store at 127.0.0.1:{store.port}"
        if store
        else "no local store was running"
    )


@click.command("store")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    help="Native-protocol port [default: a free one].",
)
def store_command(port: int) -> None:
    """Run the local ClickHouse server in the foreground, until Ctrl-C or SIGTERM.

    The chdb engine serves ClickHouse's native protocol on 127.0.0.1 over
    the data in .spur/store (SPUR_STATE_DIR/store). Users are generated:
    spur_writer for workers and commands that change data, read-only
    billing, ops and engineer; their passwords are kept in
    .spur/store/credentials.json (mode 0600). Other spur commands in this
    directory find it by themselves. `spur dev up` runs the same in the
    background.
    """
    from spur.dev.local_store import serve_in_foreground

    settings = settings_from_env()
    serve_in_foreground(settings.local.store_dir, port=port)


@click.command()
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes consuming actions (the volume), this one included: one core each. "
    "They join the worker's consumer group like more workers would; web, forms and "
    "consent are read by this process. At most the actions topic's partition count "
    "do work.",
)
def worker(processes: int) -> None:
    """Run the pipeline: Faust agents and sinks, until SIGTERM or Ctrl-C.

    Creates spur's topics and applies the store's migrations first (both
    idempotent). Offsets are committed only after the store accepted a batch.
    With --processes N, N-1 more processes read actions next to this one; one
    crashed or killed is started again, and all stop with this one.
    """
    from spur.worker.process import run_worker

    run_worker(settings_from_env(), processes)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--topic",
    default=Topic.ACTIONS.value,
    show_default=True,
    help="Input topic; the file's lines must be events of its type.",
)
def produce(file: Path, topic: str) -> None:
    """Publish events from a JSON-lines FILE (backfills, tests).

    Every line is validated against the event contract first, time guards
    included (future_timestamp: later than now plus
    SPUR_ALLOWED_CLOCK_SKEW_SECONDS; beyond_retention: older than its table's
    retention); valid lines are published, each bad line is reported as
    FILE:LINE: reason: detail, and the exit code is 2 if any line was
    rejected.
    """
    from spur.broker import kafka_target
    from spur.produce import produce_file

    settings = settings_from_env()
    report = asyncio.run(
        produce_file(kafka_target(settings), file, topic, err, settings.time_limits)
    )
    for line_no, rejection in report.rejected:
        # Plain lines (no wrapping): editors and scripts parse file:line: reason.
        click.echo(f"{file}:{line_no}: {rejection.reason}: {rejection.detail}", err=True)
    click.echo(f"published {report.published}, rejected {len(report.rejected)} lines")
    if report.rejected:
        sys.exit(2)


COMMANDS = (demo, dev, store_command, worker, produce)
