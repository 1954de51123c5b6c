"""``spur deadletters``: rejected events, counted per reason and listed."""

from __future__ import annotations

import click

from spur.cli.common import (
    TABLE_OR_JSON,
    reader_for,
    settings_from_env,
)
from spur.render import dumps, emit_rows


@click.command()
@click.option("--reason", default=None, help="Only this reason code (e.g. unknown_field).")
@click.option("--since", default=None, help="Only since this date (YYYY-MM-DD, UTC).")
@click.option("--format", "fmt", type=TABLE_OR_JSON, default="table", show_default=True)
def deadletters(reason: str | None, since: str | None, fmt: str) -> None:
    """Rejected events: counts per reason and the most recent ones."""
    import datetime as dt

    from spur.operations.deadletters import dead_letter_report

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
        click.echo(dumps(report))
        return
    emit_rows(
        [{"reason": r, "count": n} for r, n in report["counts"].items()], "table", "dead letters"
    )
    emit_rows(report["recent"], "table", "most recent")


COMMANDS = (deadletters,)
