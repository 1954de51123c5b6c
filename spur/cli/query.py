"""``spur query``: saved queries and one confined read-only SELECT."""

from __future__ import annotations

import itertools
from typing import Any

import click

from spur.cli.common import (
    FORMATS,
    reader_for,
    settings_from_env,
)
from spur.render import emit_rows, emit_stream


@click.command()
@click.argument("name_or_sql")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def query(name_or_sql: str, fmt: str) -> None:
    """Run a saved query by NAME, or one read-only SELECT.

    Saved queries: top_customers, error_rate_by_action, slowest_actions,
    busy_client_ips, sessions_with_errors (sinks/queries/*.sql). Tables
    need no database prefix. One SELECT (WITH ... SELECT, EXPLAIN) over
    spur's tables and system.one/numbers/tables/columns/parts/functions/
    time_zones runs, within SPUR_QUERY_MAX_* limits; anything else (writes,
    DDL, SET/SETTINGS, KILL, SYSTEM, INTO OUTFILE, FORMAT, several
    statements, functions reaching files, network, processes or other
    databases) is refused with exit 2, naming what. JSON output: a list of rows.
    CSV and JSON are written as the rows arrive; a read that runs past its time
    limit is cancelled on the server (the client gives up 5 s after it).
    """
    from spur.operations.query import resolve, stream_query

    resolve(name_or_sql)  # no query, or no such saved one: exit 2 before any connection
    settings = settings_from_env()
    store = reader_for(settings)
    title = name_or_sql if " " not in name_or_sql else "query"
    try:
        rows = stream_query(store, name_or_sql, settings.store.read_limits)
        if fmt == "table":  # a table is laid out from all its rows: at most TABLE_ROWS
            shown = list(itertools.islice(rows, TABLE_ROWS + 1))
            emit_rows(shown[:TABLE_ROWS], fmt, title=title)
            if len(shown) > TABLE_ROWS:  # the rest is not read (the query is cancelled)
                click.echo(
                    f"{title}: the first {TABLE_ROWS:,} rows only; --format csv or json "
                    "writes every row",
                    err=True,
                )
        else:  # CSV and JSON are written as the rows arrive
            emit_stream(rows, fmt, title=title)
    finally:
        store.close()


Row = dict[str, Any]

# Rows a table shows: laid out in memory (a million rows took 3.5 GB), and more
# than anyone reads on a terminal.
TABLE_ROWS = 10_000

COMMANDS = (query,)
