"""Commands that read: billing, query, reconcile, trace, retention, dead letters, status."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from spur.cli.common import (
    CUSTOMER_ID,
    FORMATS,
    TABLE_OR_JSON,
    CommandFailed,
    friendly_errors,
    privileged_reader_for,
    reader_for,
    settings_from_env,
    writer_for,
)
from spur.render import billing_table, emit_rows, to_csv

if TYPE_CHECKING:
    from spur.read.billing import Period


BILLING_COLUMNS = ["customer_id", "bytes_in", "bytes_out", "bytes_total", "actions"]


@click.group(invoke_without_command=True, subcommand_metavar="[COMMAND [ARGS]...]")
@click.option("--month", default=None, help="Billing month, YYYY-MM (required).")
@click.option("--customer", type=CUSTOMER_ID, default=None, help="Only this customer id.")
@click.option(
    "--tz",
    default=None,
    help="IANA time zone of the month [default: SPUR_BILLING_TIMEZONE or UTC].",
)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@friendly_errors
def billing(
    ctx: click.Context, month: str | None, customer: int | None, tz: str | None, fmt: str
) -> None:
    """Bytes in/out/total and actions per customer for one month.

    Each action counts once, in the month of its started_at in the given
    time zone. A closed month (`spur billing close`) shows the totals
    recorded when it was closed and, apart, the corrections: per customer,
    what actions of the month that arrived after closing added. A month is
    closed per time zone: 2026-11 in UTC and in Europe/Berlin are two
    periods.

    \b
    JSON output ("from", "to", "at": RFC 3339, UTC):
    {"month", "timezone", "from", "to",
     "closed": null | {"at", "by": OS user who closed it},
     "customers": [{customer_id, bytes_in, bytes_out, bytes_total, actions}],
     "corrections": [same shape; [] while the month is open]}

    "customers" are the current totals while the month is open, the closed
    totals once it is closed; a correction is current minus closed totals
    (a customer first billed after closing: its whole usage). CSV: the
    same columns; a closed month adds "part" ("closed" or "correction").
    """
    if ctx.invoked_subcommand is not None:
        if month or customer is not None or tz or fmt != "table":
            raise click.UsageError(
                f"options go after the subcommand: spur billing {ctx.invoked_subcommand} "
                "--month YYYY-MM [--tz ZONE]"
            )
        return
    if month is None:
        raise click.UsageError("Missing option '--month' (YYYY-MM).")
    from spur.read.billing import period

    settings = settings_from_env()
    timezone = tz or settings.billing_timezone
    store = reader_for(settings, "billing")  # aggregates only
    try:
        shown = period(store, month, timezone, customer)
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps(shown.as_dict(), indent=2))
    elif fmt == "csv":
        click.echo(billing_csv(shown))
    else:
        print_period(shown)


@billing.command("close")
@click.option("--month", required=True, help="Billing month, YYYY-MM; must be over.")
@click.option(
    "--tz",
    default=None,
    help="IANA time zone of the month [default: SPUR_BILLING_TIMEZONE or UTC].",
)
@friendly_errors
def billing_close(month: str, tz: str | None) -> None:
    """Close a month: record its invoice totals per customer, immutably.

    Records, once, the month's current totals per customer with the time
    and the OS user closing it. Nothing is ever overwritten: closing a
    closed month changes nothing and says so (exit 0). Actions of the month
    that arrive later are shown by `spur billing --month` as corrections,
    apart from the closed totals. The period is the month in the time zone:
    closing 2026-11 in UTC does not close it in Europe/Berlin. The month
    must be over, and younger than the actions' retention.
    """
    import datetime as dt

    from spur.read.billing import close_month

    settings = settings_from_env()
    timezone = tz or settings.billing_timezone
    store = writer_for(settings)
    try:
        result = close_month(
            store,
            month,
            timezone,
            closed_by=os_user(),
            now=dt.datetime.now(dt.UTC),
            retention_days=settings.actions_retention_days,
        )
    finally:
        store.close()
    closing = result.closing
    when = f"at {closing.at.isoformat(timespec='milliseconds')} by {closing.by}"
    if not result.closed_now:
        click.echo(f"{month} ({timezone}) was already closed {when}: nothing changed")
        return
    actions = sum(u.actions for u in result.totals)
    click.echo(
        f"closed {month} ({timezone}) {when}: {len(result.totals)} customers, {actions:,} actions"
    )


def os_user() -> str:
    """Who runs this command: the name of the process's real user id."""
    import getpass
    import os

    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):  # no passwd entry (a container's bare uid)
        return getpass.getuser()


def billing_csv(shown: Period) -> str:
    if shown.closed is None:
        return to_csv([u.as_dict() for u in shown.customers], BILLING_COLUMNS)
    rows: list[dict[str, Any]] = [
        *({**u.as_dict(), "part": "closed"} for u in shown.customers),
        *({**u.as_dict(), "part": "correction"} for u in shown.corrections),
    ]
    return to_csv(rows, [*BILLING_COLUMNS, "part"])


def print_period(shown: Period) -> None:
    console = Console()
    table = billing_table([u.as_dict() for u in shown.customers], shown.month, shown.timezone)
    if shown.closed is None:
        console.print(table)
        return
    at = shown.closed.at.isoformat(timespec="milliseconds")
    table.title = f"Billing {shown.month} ({shown.timezone}), closed at {at} by {shown.closed.by}"
    if not shown.customers:
        table.caption = "no customer had actions of the month when it was closed"
    console.print(table)
    later = billing_table([u.as_dict() for u in shown.corrections], shown.month, shown.timezone)
    later.title = f"Corrections to {shown.month} ({shown.timezone}): arrived after closing"
    if not shown.corrections:
        later.caption = "none: no action of the month arrived after closing"
    console.print(later)


@click.command()
@click.argument("name_or_sql")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@friendly_errors
def query(name_or_sql: str, fmt: str) -> None:
    """Run a saved query by NAME, or one read-only SELECT.

    Saved queries: top_customers, error_rate_by_action, slowest_actions,
    busy_client_ips, sessions_with_errors (schemas/queries/*.sql). Tables
    need no database prefix. One SELECT (WITH ... SELECT, EXPLAIN) over
    spur's tables and system.one/numbers/tables/columns/parts/functions/
    time_zones runs, within SPUR_QUERY_MAX_* limits; anything else (writes,
    DDL, SET/SETTINGS, KILL, SYSTEM, INTO OUTFILE, FORMAT, several
    statements, functions reaching files, network, processes or other
    databases) is refused with exit 2, naming what. JSON output: a list of rows.
    """
    from spur.read.query import run_query

    settings = settings_from_env()
    store = reader_for(settings)
    try:
        rows = run_query(store, name_or_sql, settings.read_limits)
    finally:
        store.close()
    emit_rows(rows, fmt, title=name_or_sql if " " not in name_or_sql else "query")


@click.command()
@click.option("--month", required=True, help="Month, YYYY-MM.")
@click.option(
    "--tz", default=None, help="IANA time zone of the month [default: SPUR_BILLING_TIMEZONE]."
)
@click.option(
    "--repair",
    is_flag=True,
    help="After a disaster: rebuild differing windows from the raw actions.",
)
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table", show_default=True)
@friendly_errors
def reconcile(month: str, tz: str | None, repair: bool, fmt: str) -> None:
    """Compare a month's usage (per customer) and capacity (per action and minute)
    with the raw actions.

    Every action is folded whatever its arrival order, so there is no
    difference unless a login was erased (its billing stays) or the store
    lost data. --repair (a disaster tool; workers may keep running) rebuilds
    each differing window from the raw actions, by content, as a correction
    that also outranks any stale published state; windows holding erased
    actions are reported, never rewritten.
    Exit code 1 while aggregates miss raw actions or capacity differs, else 0.
    """
    from spur.read.reconcile import reconcile as compare
    from spur.read.reconcile import reconcile_capacity
    from spur.read.reconcile import repair as rewrite

    settings = settings_from_env()
    timezone = tz or settings.billing_timezone
    store = writer_for(settings) if repair else privileged_reader_for(settings)
    try:
        before = compare(store, month, timezone)
        capacity = reconcile_capacity(store, month, timezone)
        repaired = rewrite(store, month, timezone) if repair and (before or capacity) else 0
        after = compare(store, month, timezone) if repaired else before
        capacity_after = reconcile_capacity(store, month, timezone) if repaired else capacity
    finally:
        store.close()
    if fmt == "json":
        document = {
            "month": month,
            "timezone": timezone,
            "differences": [d.as_dict() for d in before],
            "capacity_differences": [d.as_dict() for d in capacity],
            "windows_repaired": repaired,
            "remaining": len(after),
            "capacity_remaining": len(capacity_after),
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
        if capacity:
            click.echo(f"{len(capacity)} capacity minutes differ from the raw actions")
        if repair:
            click.echo(
                f"repaired {repaired} windows; {len(after)} customers and "
                f"{len(capacity_after)} capacity minutes still differ"
            )
    if any(d.raw[2] > d.aggregated[2] for d in after) or capacity_after:
        sys.exit(1)


@click.command()
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

    from spur.read.trace import Node
    from spur.read.trace import trace as build

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


@click.command()
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@friendly_errors
def retention(fmt: str) -> None:
    """Per table: the retention policy, the oldest row, and whether it conforms.

    Exit code 1 when a table keeps rows longer than its policy allows.
    """
    from spur.read.retention import retention_report

    settings = settings_from_env()
    store = privileged_reader_for(settings)  # every table's oldest row
    try:
        report = retention_report(store, settings)
    finally:
        store.close()
    emit_rows(report, fmt, title="retention")
    if not all(row["conforms"] for row in report):
        sys.exit(1)


@click.command()
@click.option("--reason", default=None, help="Only this reason code (e.g. unknown_field).")
@click.option("--since", default=None, help="Only since this date (YYYY-MM-DD, UTC).")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table", show_default=True)
@friendly_errors
def deadletters(reason: str | None, since: str | None, fmt: str) -> None:
    """Rejected events: counts per reason and the most recent ones."""
    import datetime as dt

    from spur.read.deadletters import dead_letter_report

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


@click.command()
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table", show_default=True)
def status(fmt: str) -> None:
    """Broker reachable, consumer lag per topic, rows and last insert per table.

    Exit code 1 when the broker or the store cannot be reached.
    """
    from schemas.topics import INPUT_TOPICS
    from spur.broker import NoBrokerError, kafka_target
    from spur.client.kafka import KafkaTarget
    from spur.read.status import broker_status, store_status
    from spur.store_access import describe

    settings = settings_from_env()
    try:
        bootstrap: KafkaTarget | None = kafka_target(settings)
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
    document = {"broker": broker, "store": {"url": describe(settings), **stored}}
    if fmt == "json":
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        state = "reachable" if broker["reachable"] else f"UNREACHABLE: {broker.get('error')}"
        click.echo(f"broker {broker.get('bootstrap', '-')}: {state}")
        for topic, lag in broker.get("consumer_lag", {}).items():
            click.echo(f"  {topic}: lag {lag:,}")
        health = "reachable" if stored["reachable"] else f"UNREACHABLE: {stored['error']}"
        click.echo(f"store {describe(settings)}: {health}")
        if stored.get("note"):
            click.echo(f"  {stored['note']}")
        if stored.get("tables"):
            emit_rows(stored["tables"], "table", "tables")
    if not (broker["reachable"] and stored["reachable"]):
        sys.exit(1)


COMMANDS = (billing, query, reconcile, trace, retention, deadletters, status)
