"""How spur prints rows, invoices and traces: the output conventions, in one place.

Shared by the CLI and the demo. Values are shown the same way in tables, CSV
and JSON: timestamps in UTC with milliseconds and ``Z``
(``2026-11-24T10:15:31.000Z``), IPv4 addresses as IPv4 (the store keeps them
IPv4-mapped in IPv6 columns), UUIDs as text, and an optional event field
that was absent as null (the store keeps ``""``, ``0`` or the nil UUID).
Tables are never cut to the terminal's width when written to a file or a
pipe, and an empty result says so in a line.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import ipaddress
import json
import sys
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from spur.terminal import inert, inert_line, visible

if TYPE_CHECKING:
    from rich.tree import Tree


class Node(Protocol):
    """An action of a trace (spur.operations.trace.Node), as the renderers need it."""

    @property
    def row(self) -> dict[str, Any]: ...
    @property
    def orphan(self) -> bool: ...
    @property
    def cycle(self) -> bool: ...
    @property
    def continued(self) -> bool: ...
    @property
    def children(self) -> Sequence[Node]: ...


NIL_UUID = uuid.UUID(int=0)

# Optional fields of the event contract (spur_schemas.events), as the store keeps
# them when the event had none: shown as null.
ABSENT: dict[str, object] = {
    "parent_action_id": NIL_UUID,
    "data_kind": "",
    "error_code": "",
    "server": "",
    "profile": {},
    "isp": "",
}


def console() -> Console:
    """A console for stdout: the terminal's width on a terminal, unlimited otherwise."""
    if sys.stdout.isatty():
        return Console()
    # A file or a pipe: no width to fit, and a cut value would be lost data.
    return Console(width=1_000_000, soft_wrap=True)


def timestamp(value: dt.datetime) -> str:
    """UTC, milliseconds, ``Z`` (a naive value is UTC, as the store returns it)."""
    utc = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def value_of(value: Any) -> Any:
    """A stored value as spur shows it (JSON-ready)."""
    if isinstance(value, dict):
        return {str(k): value_of(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [value_of(v) for v in value]
    return _scalar(value)


def _scalar(value: Any) -> Any:
    shown: Any = value
    if isinstance(value, dt.datetime):
        shown = timestamp(value)
    elif isinstance(value, dt.date):
        shown = value.isoformat()
    elif isinstance(value, uuid.UUID):
        shown = None if value == NIL_UUID else str(value)
    elif isinstance(value, ipaddress.IPv6Address):
        shown = str(value.ipv4_mapped or value)
    elif isinstance(value, ipaddress.IPv4Address | Decimal):
        shown = str(value)
    return shown


def row_of(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as spur shows it: :func:`value_of` of each value, absent fields null."""
    shown: dict[str, Any] = {}
    for key, value in row.items():
        absent = key in ABSENT and (value == ABSENT[key] or value == str(ABSENT[key]))
        shown[key] = None if absent else value_of(value)
    if "data_count" in shown and "data_kind" in shown and shown["data_kind"] is None:
        shown["data_count"] = None  # a count of nothing named: the field was absent
    return shown


def dumps(document: Any, indent: int | None = 2) -> str:
    """JSON of a document of stored values, in spur's conventions."""
    return json.dumps(value_of(document), indent=indent, default=str)


def _cell(value: Any) -> str:
    shown = value_of(value)
    if isinstance(shown, dict | list):  # a map (an action's profile) as JSON, not a repr
        return json.dumps(shown, ensure_ascii=False)
    return "" if shown is None else str(shown)


def emit_rows(rows: list[dict[str, Any]], fmt: str, title: str) -> None:
    """Print rows as a table, CSV or JSON (a list of objects).

    No rows: JSON ``[]``; CSV nothing on stdout; a table a line ``TITLE: no rows``.
    """
    shown = [row_of(row) for row in rows]
    if fmt == "json":
        click.echo(dumps(shown))
        return
    if not rows:
        if fmt == "csv":
            click.echo(f"{title}: no rows", err=True)
        else:
            click.echo(f"{title}: no rows")
        return
    columns = list(rows[0])
    if fmt == "csv":
        text = to_csv(shown, columns)
        # CSV keeps the stored bytes, except on a terminal, which would act on them.
        click.echo(visible(text) if sys.stdout.isatty() else text)
        return
    table = Table(title=inert(title))
    for column in columns:
        table.add_column(inert(column))
    for row in shown:
        table.add_row(*(inert(_table_cell(row[c])) for c in columns))
    console().print(table)


# A table's cell shows this many characters at most: rich lays out every
# character of a cell (a 1 MB cell took 1.4 s), and no terminal shows more.
TABLE_CELL_CHARS = 2_000


def _table_cell(value: Any) -> str:
    text = _cell(value)
    if len(text) <= TABLE_CELL_CHARS:
        return text
    cut = len(text) - TABLE_CELL_CHARS
    return f"{text[:TABLE_CELL_CHARS]}… ({cut:,} more characters: --format csv or json shows all)"


def emit_stream(rows: Iterable[dict[str, Any]], fmt: str, title: str) -> None:
    """Like :func:`emit_rows` for CSV and JSON, written row by row as ``rows`` yields them
    (the memory of one row, whatever the result's size)."""
    out = click.get_text_stream("stdout")
    terminal = sys.stdout.isatty()
    count = 0
    for row in rows:
        shown = row_of(row)
        if fmt == "json":
            text = json.dumps(value_of(shown), default=str)
            out.write(("[\n  " if count == 0 else ",\n  ") + text)
        else:
            lines = _csv_line(list(shown)) if count == 0 else ""  # the header once
            lines += _csv_line([_cell(v) for v in shown.values()])
            out.write(visible(lines) if terminal else lines)
        count += 1
    if fmt == "json":
        out.write("[]\n" if count == 0 else "\n]\n")
    elif count == 0:
        click.echo(f"{title}: no rows", err=True)
    out.flush()


def _csv_line(values: list[str]) -> str:
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow(values)
    return line.getvalue()


def to_csv(rows: Iterable[dict[str, Any]], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue().rstrip("\n")


def billing_table(rows: list[dict[str, int]], month: str, timezone: str) -> Table:
    table = Table(title=inert(f"Billing {month} ({timezone})"))
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


def trace_tree(title: str, roots: Sequence[Node]) -> Tree:
    """A forest of actions (spur.operations.trace) as one tree: the CLI's and the demo's."""
    from rich.tree import Tree

    def label(node: Node) -> Text:
        r = node.row
        parts = [
            inert_line(r["action"], "bold"),
            inert_line(
                f" {value_of(r['started_at'])} {r['duration_ms']} ms "
                f"in {r['bytes_in']:,} B / out {r['bytes_out']:,} B"
            ),
        ]
        if r["status"] == "error":
            parts.append(inert_line(f" ERROR {r['error_code']}", "red"))
        if node.orphan:
            parts.append(Text(" (orphan: trigger not stored)", "yellow"))
        if node.cycle:
            parts.append(Text(" (its triggers loop back to it)", "yellow"))
        if node.continued:
            parts.append(Text(f" (continued: trigger {r['parent_action_id']})", "yellow"))
        parts.append(inert_line(f" {r['action_id']}", "dim"))
        return Text.assemble(*parts)

    def add(tree: Tree, node: Node) -> None:
        branch = tree.add(label(node))
        for child in node.children:
            add(branch, child)

    # Labels and title stay on their lines: a stored newline would draw a branch.
    tree = Tree(inert_line(title))
    for root in roots:
        add(tree, root)
    return tree


def trace_json(roots: Sequence[Node]) -> str:
    """The forest as JSON: each action's row in spur's conventions, its children nested."""

    def document(node: Node) -> dict[str, Any]:
        return {
            **row_of(node.row),
            "orphan": node.orphan,
            "cycle": node.cycle,
            "continued": node.continued,
            "children": [document(child) for child in node.children],
        }

    return json.dumps([document(root) for root in roots], indent=2, default=str)
