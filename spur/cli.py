"""The ``spur`` command line (DESIGN §5).

Exit codes: 0 success, 1 the command failed (broker or store unreachable,
worker died), 2 bad input (options, file lines); every failure prints what
went wrong and what to do on stderr.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from spur.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from sinks.store import Store

F = TypeVar("F", bound=Callable[..., Any])
err = Console(stderr=True)


class CommandFailed(click.ClickException):
    """A failure the user can act on; printed without a traceback, exit 1."""

    exit_code = 1


def friendly_errors(command: F) -> F:
    """Turn spur's known error types into a one-line message and an exit code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sinks.store import StoreError
        from spur.billing import BillingInputError
        from spur.broker import NoBrokerError
        from spur.demo import DemoError
        from spur.devbroker import BrokerError
        from spur.produce import UnknownTopicError
        from spur.query import QueryRefusedError

        try:
            return command(*args, **kwargs)
        except (SettingsError, BillingInputError, UnknownTopicError, QueryRefusedError) as exc:
            raise click.UsageError(str(exc)) from exc
        except (NoBrokerError, BrokerError, StoreError, DemoError) as exc:
            raise CommandFailed(str(exc)) from exc

    return wrapper  # type: ignore[return-value]  # same signature as `command`


def reader_for(settings: Settings) -> Store:
    """The store to read: through the running worker when it owns the embedded store."""
    from sinks.store import open_reader

    return open_reader(settings.store, settings.state_dir, settings.insert_timeout_seconds)


def settings_from_env() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """spur: telemetry of a SaaS operator's app servers, from Kafka to ClickHouse.

    Configuration comes from SPUR_* environment variables (e.g.
    SPUR_KAFKA_BOOTSTRAP, SPUR_CLICKHOUSE_URL); `spur dev up` starts a local
    broker that commands run in this directory use by default.
    """


@main.command()
@click.option("--customers", default=8, show_default=True, help="Simulated customers.")
@click.option("--sessions", default=40, show_default=True, help="Sessions per customer.")
@click.option("--keep", is_flag=True, help="Keep the demo's directory (logs, data) afterwards.")
@friendly_errors
def demo(customers: int, sessions: int, keep: bool) -> None:
    """Run everything locally: broker, worker, simulated app servers, billing.

    Starts a real Kafka broker and the pipeline on an embedded store in a
    temporary directory, publishes simulated traffic (with a few bad events),
    waits until the pipeline has stored it, prints the billing table and
    stops everything it started.
    """
    from spur.demo import DemoOptions, run_demo

    run_demo(settings_from_env(), DemoOptions(customers=customers, sessions=sessions, keep=keep))


@main.group()
def dev() -> None:
    """A local single-node Kafka broker for development."""


@dev.command("up")
@friendly_errors
def dev_up() -> None:
    """Start the local broker in the background (idempotent).

    While it runs, spur commands started in this directory use it unless
    SPUR_KAFKA_BOOTSTRAP says otherwise. The first start downloads the
    broker's jars with Maven into ~/.cache/spur.
    """
    from spur.devbroker import dev_up as start

    settings = settings_from_env()
    with err.status("starting Kafka broker (the first run downloads its jars)..."):
        state, started = start(settings.dev_broker_dir, settings.kafka_version, settings.cache_dir)
    verb = "started" if started else "already running"
    click.echo(f"Kafka {state.version} {verb} at {state.bootstrap} (pid {state.pid})")


@dev.command("down")
@friendly_errors
def dev_down() -> None:
    """Stop the local broker started by `spur dev up` in this directory."""
    from spur.devbroker import dev_down as stop

    state = stop(settings_from_env().dev_broker_dir)
    click.echo(f"stopped Kafka at {state.bootstrap}" if state else "no dev broker was running")


@main.command()
@friendly_errors
def worker() -> None:
    """Run the pipeline: Faust agents and sinks, until SIGTERM or Ctrl-C.

    Creates spur's topics and applies the store's migrations first (both
    idempotent). Offsets are committed only after the store accepted a batch.
    """
    from spur.worker import run_worker

    run_worker(settings_from_env())


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--topic",
    default="spur.actions.v1",
    show_default=True,
    help="Input topic; the file's lines must be events of its type.",
)
@friendly_errors
def produce(file: Path, topic: str) -> None:
    """Publish events from a JSON-lines FILE (backfills, tests).

    Every line is validated against the event contract first; valid lines
    are published, each bad line is reported with its number and reason, and
    the exit code is 2 if any line was rejected.
    """
    from spur.broker import kafka_bootstrap
    from spur.produce import produce_file

    settings = settings_from_env()
    report = asyncio.run(produce_file(kafka_bootstrap(settings), file, topic, err))
    for line_no, rejection in report.rejected:
        # Plain lines (no wrapping): editors and scripts parse file:line: reason.
        click.echo(f"{file}:{line_no}: {rejection.reason}: {rejection.detail}", err=True)
    click.echo(f"published {report.published}, rejected {len(report.rejected)} lines")
    if report.rejected:
        sys.exit(2)


FORMATS = click.Choice(["table", "csv", "json"])


@main.command()
@click.option("--month", required=True, help="Billing month, YYYY-MM.")
@click.option("--customer", type=int, default=None, help="Only this customer id.")
@click.option(
    "--tz",
    default=None,
    help="IANA time zone of the month [default: SPUR_BILLING_TIMEZONE or UTC].",
)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@friendly_errors
def billing(month: str, customer: int | None, tz: str | None, fmt: str) -> None:
    """Bytes in/out/total and actions per customer for one month.

    Each action counts once, in the month of its started_at in the given
    time zone. JSON output: {"month", "timezone", "from", "to", "customers":
    [{customer_id, bytes_in, bytes_out, bytes_total, actions}]}.
    """
    from spur.billing import billing as compute
    from spur.billing import month_bounds

    settings = settings_from_env()
    timezone = tz or settings.billing_timezone
    start, end = month_bounds(month, timezone)
    store = reader_for(settings)
    try:
        usage = compute(store, month, timezone, customer)
    finally:
        store.close()
    rows = [u.as_dict() for u in usage]
    if fmt == "json":
        document = {
            "month": month,
            "timezone": timezone,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "customers": rows,
        }
        click.echo(json.dumps(document, indent=2))
    elif fmt == "csv":
        click.echo(to_csv(rows, ["customer_id", "bytes_in", "bytes_out", "bytes_total", "actions"]))
    else:
        Console().print(billing_table(rows, month, timezone))


@main.command()
@click.argument("name_or_sql")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@friendly_errors
def query(name_or_sql: str, fmt: str) -> None:
    """Run a saved query by NAME, or read-only SQL.

    Saved queries: top_customers, error_rate_by_action, slowest_actions,
    busy_client_ips, sessions_with_errors (schemas/queries/*.sql). Tables
    need no database prefix. Writes are refused. JSON output: a list of rows.
    """
    from spur.query import run_query

    settings = settings_from_env()
    store = reader_for(settings)
    try:
        rows = run_query(store, name_or_sql)
    finally:
        store.close()
    emit_rows(rows, fmt, title=name_or_sql if " " not in name_or_sql else "query")


@main.command()
@click.option("--month", required=True, help="Month, YYYY-MM.")
@click.option(
    "--tz", default=None, help="IANA time zone of the month [default: SPUR_BILLING_TIMEZONE]."
)
@click.option(
    "--repair", is_flag=True, help="Rewrite differing hourly windows from the raw actions."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@friendly_errors
def reconcile(month: str, tz: str | None, repair: bool, fmt: str) -> None:
    """Compare a month's aggregates with the raw actions, per customer.

    Differences come from actions later than the allowed lateness (stored
    raw, not yet in the hourly windows). --repair rewrites those windows;
    stop the workers on this store first. Exit code 0 when (after repair)
    nothing differs, 1 when differences remain.
    """
    from sinks.store import open_store
    from spur.reconcile import reconcile as compare
    from spur.reconcile import repair as rewrite

    settings = settings_from_env()
    timezone = tz or settings.billing_timezone
    store = (
        open_store(settings.store, settings.insert_timeout_seconds)
        if repair
        else reader_for(settings)
    )
    try:
        before = compare(store, month, timezone)
        repaired = rewrite(store, month, timezone) if repair and before else 0
        after = compare(store, month, timezone) if repaired else before
    finally:
        store.close()
    if fmt == "json":
        document = {
            "month": month,
            "timezone": timezone,
            "differences": [d.as_dict() for d in before],
            "windows_repaired": repaired,
            "remaining": len(after),
        }
        click.echo(json.dumps(document, indent=2))
    else:
        rows = [
            {
                "customer_id": d.customer_id,
                "missing_actions": d.raw[2] - d.aggregated[2],
                "aggregated_bytes": d.aggregated[0] + d.aggregated[1],
                "raw_bytes": d.raw[0] + d.raw[1],
            }
            for d in before
        ]
        emit_rows(rows, "table", title=f"reconcile {month} ({timezone})")
        if repair:
            click.echo(f"repaired {repaired} hourly windows; {len(after)} customers still differ")
    if after:
        sys.exit(1)


def emit_rows(rows: list[dict[str, Any]], fmt: str, title: str) -> None:
    """Print rows as a table, CSV or JSON (a list of objects)."""
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    columns = list(rows[0]) if rows else []
    if fmt == "csv":
        click.echo(to_csv(rows, columns))
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    if not rows:
        table.caption = "no rows"
    Console().print(table)


def to_csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().rstrip("\n")


def billing_table(rows: list[dict[str, int]], month: str, timezone: str) -> Table:
    table = Table(title=f"Billing {month} ({timezone})")
    for name in ("customer_id", "bytes_in", "bytes_out", "bytes_total", "actions"):
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(
            str(row["customer_id"]),
            f"{row['bytes_in']:,}",
            f"{row['bytes_out']:,}",
            f"{row['bytes_total']:,}",
            f"{row['actions']:,}",
        )
    if not rows:
        table.caption = f"no actions stored for {month}"
    return table


if __name__ == "__main__":
    main()
