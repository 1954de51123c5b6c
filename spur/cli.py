"""The ``spur`` command line (DESIGN §5).

Exit codes: 0 success, 1 the command failed (broker or store unreachable,
worker died), 2 bad input (options, file lines); every failure prints what
went wrong and what to do on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    from spur.subjects import Subject

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
TABLE_OR_JSON = click.Choice(["table", "json"])


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
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table", show_default=True)
@friendly_errors
def reconcile(month: str, tz: str | None, repair: bool, fmt: str) -> None:
    """Compare a month's aggregates with the raw actions, per customer.

    Differences come from actions later than the allowed lateness (stored
    raw, not yet in the hourly windows). --repair rewrites those windows;
    stop the workers on this store first. Windows with fewer raw actions
    than aggregated ones (an erased login) are reported, never reduced.
    Exit code 1 while aggregates miss raw actions, else 0.
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
    if any(d.raw[2] > d.aggregated[2] for d in after):
        sys.exit(1)


def subject_from(customer: int | None, login: str | None) -> Subject:
    from spur.subjects import Subject

    if (customer is None) == (login is None):
        raise click.UsageError("name exactly one subject: --customer N or --login NAME")
    if customer is not None:
        if not 1 <= customer <= 2**32 - 1:
            raise click.UsageError(f"--customer {customer}: customer ids are 1 … 4294967295")
        return Subject("customer", str(customer))
    assert login is not None
    return Subject("login", login)


@main.command()
@click.option("--customer", type=int, default=None, help="Erase this customer's data.")
@click.option("--login", default=None, help="Erase this login's data.")
@click.option("--yes", is_flag=True, help="Confirm: the deletion cannot be undone.")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table", show_default=True)
@friendly_errors
def erase(customer: int | None, login: str | None, yes: bool, fmt: str) -> None:
    """Delete everything stored about a customer or a login (clause 3.4).

    Removes their rows from every table (raw events, aggregates when a
    customer is erased, consent log, dead letters), writes an audit record
    with a salted hash instead of the subject, tombstones their consent
    ledger entries in Kafka, and says when the copies still held in Kafka's
    input topics expire. Needs the worker stopped in embedded mode.
    """
    from sinks.store import open_store
    from spur.subjects import erase as delete_subject
    from spur.subjects import load_salt, logins_of

    subject = subject_from(customer, login)
    if not yes:
        raise click.UsageError("erasure cannot be undone: add --yes to confirm")
    settings = settings_from_env()
    salt_value = settings.erasure_salt.get_secret_value() if settings.erasure_salt else None
    store = open_store(settings.store, settings.insert_timeout_seconds)
    try:
        logins = logins_of(store, subject)
        erasure = delete_subject(
            store, subject, load_salt(salt_value, settings.state_dir), settings.input_retention_days
        )
    finally:
        store.close()
    tombstones = tombstone_consent(settings, logins)
    expires = erasure.kafka_expires_at.strftime("%Y-%m-%d %H:%M UTC")
    if fmt == "json":
        document = {
            "erasure_id": str(erasure.erasure_id),
            "rows_removed": erasure.rows_removed,
            "kafka_input_copies_expire_by": erasure.kafka_expires_at.isoformat(),
            "consent_tombstones": tombstones,
        }
        click.echo(json.dumps(document, indent=2))
        return
    emit_rows(
        [{"table": t, "rows_removed": n} for t, n in erasure.rows_removed.items()],
        "table",
        title=f"erased {subject.kind} (audit id {erasure.erasure_id})",
    )
    click.echo(
        f"Kafka: copies in the input topics expire by {expires} "
        f"(retention {settings.input_retention_days} days); consent ledger: {tombstones}"
    )


def tombstone_consent(settings: Settings, logins: list[str]) -> str:
    """Tombstone the logins' keys on the compacted consent topic; say what happened."""
    from aiokafka.errors import KafkaError

    from spur.broker import NoBrokerError, kafka_bootstrap
    from spur.client import Publisher
    from spur.topics import Topic

    if not logins:
        return "no entries"

    async def send() -> None:
        async with Publisher(kafka_bootstrap(settings)) as publisher:
            for login in logins:
                await publisher.publish_tombstone(Topic.CONSENT, login.encode())

    try:
        asyncio.run(asyncio.wait_for(send(), 30))
    except (NoBrokerError, KafkaError, TimeoutError, OSError) as exc:
        return f"NOT tombstoned ({exc or type(exc).__name__}); rerun erase when the broker is up"
    return f"{len(logins)} login(s) tombstoned, removed at the next compaction"


@main.command()
@click.option("--customer", type=int, default=None, help="Export this customer's data.")
@click.option("--login", default=None, help="Export this login's data.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File [stdout]."
)
@friendly_errors
def export(customer: int | None, login: str | None, out: Path | None) -> None:
    """Every stored row about a customer or login, as JSON lines (clause 2).

    Each line is {"table": ..., "row": {...}}. For information requests.
    """
    from spur.subjects import export as rows_of

    subject = subject_from(customer, login)
    settings = settings_from_env()
    store = reader_for(settings)
    written = 0
    try:
        with out.open("w") if out else contextlib.nullcontext(sys.stdout) as sink:
            for line in rows_of(store, subject):
                sink.write(json.dumps(line, default=str) + "\n")
                written += 1
    finally:
        store.close()
    if out:
        click.echo(f"wrote {written} rows about the {subject.kind} to {out}")


@main.command()
@click.option("--session", "session_id", default=None, help="A session id.")
@click.option("--action", "action_id", default=None, help="An action id (UUID).")
@click.option(
    "--format", "fmt", type=click.Choice(["tree", "json"]), default="tree", show_default=True
)
@friendly_errors
def trace(session_id: str | None, action_id: str | None, fmt: str) -> None:
    """A session's chain of actions: what triggered what, with times, bytes, status.

    Orphans (their triggering action is not stored) are shown and marked.
    """
    import uuid

    from rich.tree import Tree

    from spur.trace import Node
    from spur.trace import trace as build

    if (session_id is None) == (action_id is None):
        raise click.UsageError("name exactly one of --session ID or --action UUID")
    if action_id is not None:
        try:
            uuid.UUID(action_id)
        except ValueError as exc:
            raise click.UsageError(f"--action {action_id!r}: not a UUID") from exc
    settings = settings_from_env()
    store = reader_for(settings)
    try:
        roots = build(store, session_id=session_id, action_id=action_id)
    finally:
        store.close()
    if not roots:
        what = f"session {session_id}" if session_id else f"action {action_id}"
        raise CommandFailed(f"no stored actions for {what}")
    if fmt == "json":
        click.echo(json.dumps([root.as_dict() for root in roots], indent=2, default=str))
        return

    def label(node: Node) -> str:
        r = node.row
        mark = " [red]ERROR " + str(r["error_code"]) + "[/]" if r["status"] == "error" else ""
        orphan = " [yellow](orphan: trigger not stored)[/]" if node.orphan else ""
        return (
            f"[bold]{r['action']}[/] {r['started_at']} {r['duration_ms']} ms "
            f"in {r['bytes_in']:,} B / out {r['bytes_out']:,} B"
            f"{mark}{orphan} [dim]{r['action_id']}[/]"
        )

    def add(tree: Tree, node: Node) -> None:
        branch = tree.add(label(node))
        for child in node.children:
            add(branch, child)

    first = roots[0].row
    tree = Tree(
        f"session {first['session_id']} (customer {first['customer_id']}, {first['login']})"
    )
    for root in roots:
        add(tree, root)
    Console().print(tree)


@main.command()
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@friendly_errors
def retention(fmt: str) -> None:
    """Per table: the retention policy, the oldest row, and whether it conforms.

    Exit code 1 when a table keeps rows longer than its policy allows.
    """
    from spur.ops import retention_report

    settings = settings_from_env()
    store = reader_for(settings)
    try:
        report = retention_report(store, settings)
    finally:
        store.close()
    emit_rows(report, fmt, title="retention")
    if not all(row["conforms"] for row in report):
        sys.exit(1)


@main.command()
@click.option("--reason", default=None, help="Only this reason code (e.g. unknown_field).")
@click.option("--since", default=None, help="Only since this date (YYYY-MM-DD, UTC).")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table", show_default=True)
@friendly_errors
def deadletters(reason: str | None, since: str | None, fmt: str) -> None:
    """Rejected events: counts per reason and the most recent ones."""
    import datetime as dt

    from spur.ops import dead_letter_report

    start = None
    if since:
        try:
            start = dt.datetime.fromisoformat(since).replace(tzinfo=dt.UTC)
        except ValueError as exc:
            raise click.UsageError(f"--since {since!r}: expected YYYY-MM-DD") from exc
    settings = settings_from_env()
    store = reader_for(settings)
    try:
        report = dead_letter_report(store, reason, start)
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, default=str))
        return
    emit_rows(
        [{"reason": r, "count": n} for r, n in report["counts"].items()], "table", "dead letters"
    )
    emit_rows(report["recent"], "table", "most recent")


@main.command()
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table", show_default=True)
def status(fmt: str) -> None:
    """Broker reachable, consumer lag per topic, rows and last insert per table.

    Exit code 1 when the broker or the store cannot be reached.
    """
    from spur.broker import NoBrokerError, kafka_bootstrap
    from spur.ops import broker_status, store_status
    from spur.topics import INPUT_TOPICS

    settings = settings_from_env()
    try:
        bootstrap: str | None = kafka_bootstrap(settings)
    except NoBrokerError:
        bootstrap = None
    broker = broker_status(bootstrap, settings.consumer_group, [t.value for t in INPUT_TOPICS])
    try:
        store = reader_for(settings)
    except Exception as exc:  # any failure to open is reported, not raised
        stored: dict[str, Any] = {"reachable": False, "error": str(exc)}
    else:
        try:
            stored = store_status(store)
        finally:
            store.close()
    document = {"broker": broker, "store": {"url": settings.store.redacted(), **stored}}
    if fmt == "json":
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        state = "reachable" if broker["reachable"] else f"UNREACHABLE: {broker.get('error')}"
        click.echo(f"broker {broker.get('bootstrap', '-')}: {state}")
        for topic, lag in broker.get("consumer_lag", {}).items():
            click.echo(f"  {topic}: lag {lag:,}")
        health = "reachable" if stored["reachable"] else f"UNREACHABLE: {stored['error']}"
        click.echo(f"store {settings.store.redacted()}: {health}")
        if stored.get("tables"):
            emit_rows(stored["tables"], "table", "tables")
    if not (broker["reachable"] and stored["reachable"]):
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
