"""The ``spur`` command line (DESIGN §5).

Exit codes: 0 success, 1 the command failed (broker or store unreachable,
worker died), 2 bad input (options, file lines); every failure prints what
went wrong and what to do on stderr.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from spur.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from sinks.store import Store
    from spur.store_access import Reader

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
        from spur.dev.store import LocalStoreError
        from spur.devbroker import BrokerError
        from spur.produce import UnknownTopicError
        from spur.query import QueryRefusedError
        from spur.topics import TopicError

        try:
            return command(*args, **kwargs)
        except (SettingsError, BillingInputError, UnknownTopicError, QueryRefusedError) as exc:
            raise click.UsageError(str(exc)) from exc
        except (
            NoBrokerError,
            BrokerError,
            StoreError,
            DemoError,
            LocalStoreError,
            TopicError,
        ) as exc:
            raise CommandFailed(str(exc)) from exc

    return wrapper  # type: ignore[return-value]  # same signature as `command`


def reader_for(settings: Settings, user: Reader = "engineer") -> Store:
    """The store as a read-only user (workers may run meanwhile)."""
    from spur.store_access import open_reader

    return open_reader(settings, user)


def privileged_reader_for(settings: Settings) -> Store:
    """Reads of every table (export, retention, reconcile) as the writer, writes refused."""
    from spur.store_access import open_privileged_reader

    return open_privileged_reader(settings)


def writer_for(settings: Settings) -> Store:
    """The store as its writer, for commands that change data (workers may run meanwhile)."""
    from spur.store_access import open_writer

    return open_writer(settings)


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
    import os

    from spur.private import PRIVATE_UMASK

    # What spur and its children (broker, store, Faust) write is private.
    os.umask(PRIVATE_UMASK)


FORMATS = click.Choice(["table", "csv", "json"])
# One rule for customer ids everywhere (DESIGN §3: 1 to 2^32 - 1); out of range exits 2.
CUSTOMER_ID = click.IntRange(1, 2**32 - 1)
TABLE_OR_JSON = click.Choice(["table", "json"])


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


# The commands register themselves on `main` when imported.
from spur import cli_pipeline, cli_privacy, cli_read  # noqa: E402, F401

if __name__ == "__main__":
    main()
