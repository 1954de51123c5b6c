"""Commands about a month's usage: billing (and closing a month)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from spur.cli.common import (
    CUSTOMER_ID,
    FORMATS,
    reader_for,
    settings_from_env,
    writer_for,
)
from spur.operations.periods import billing_zone
from spur.render import billing_table, console, to_csv
from spur.terminal import inert

if TYPE_CHECKING:
    from spur.operations.billing import Period


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
def billing(
    ctx: click.Context, month: str | None, customer: int | None, tz: str | None, fmt: str
) -> None:
    """Bytes in/out/total and actions per customer for one month.

    Each action counts once, in the month of its started_at in the given
    time zone. A closed month (`spur billing close`) shows the totals
    recorded when it was closed and, apart, the corrections: per customer,
    what actions of the month that arrived after closing added. A month is
    closed per time zone: 2026-11 in UTC and in Europe/Berlin are two
    periods (UTC and Etc/UTC, names of one zone, are one).

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
        if month or customer is not None or tz is not None or fmt != "table":
            raise click.UsageError(
                f"options go after the subcommand: spur billing {ctx.invoked_subcommand} "
                "--month YYYY-MM [--tz ZONE]"
            )
        return
    if month is None:
        raise click.UsageError("Missing option '--month' (YYYY-MM).")
    from spur.operations.billing import period

    settings = settings_from_env()
    # A bad month or zone exits 2 before any connection.
    timezone = billing_zone(month, tz, settings.billing.timezone)
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

    from spur.operations.billing import close_month

    settings = settings_from_env()
    # A bad month or zone exits 2 before any connection.
    timezone = billing_zone(month, tz, settings.billing.timezone)
    store = writer_for(settings)
    try:
        result = close_month(
            store,
            month,
            timezone,
            closed_by=os_user(),
            now=dt.datetime.now(dt.UTC),
            retention_days=settings.retention.actions_days,
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
    out = console()
    table = billing_table([u.as_dict() for u in shown.customers], shown.month, shown.timezone)
    if shown.closed is None:
        out.print(table)
        return
    at = shown.closed.at.isoformat(timespec="milliseconds")
    table.title = inert(
        f"Billing {shown.month} ({shown.timezone}), closed at {at} by {shown.closed.by}"
    )
    if not shown.customers:
        table.caption = "no customer had actions of the month when it was closed"
    out.print(table)
    later = billing_table([u.as_dict() for u in shown.corrections], shown.month, shown.timezone)
    later.title = f"Corrections to {shown.month} ({shown.timezone}): arrived after closing"
    if not shown.corrections:
        later.caption = "none: no action of the month arrived after closing"
    out.print(later)


COMMANDS = (billing,)
