"""How spur prints rows and invoices: shared by the CLI and the demo."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table


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
