"""``spur trace``: a session's or an action's chain of actions."""

from __future__ import annotations

import click

from spur.cli.common import (
    CommandFailed,
    reader_for,
    settings_from_env,
)
from spur.render import console, trace_json, trace_tree


@click.command()
@click.option("--session", "session_id", default=None, help="A session id.")
@click.option("--action", "action_id", default=None, help="An action id (UUID).")
@click.option(
    "--format", "fmt", type=click.Choice(["tree", "json"]), default="tree", show_default=True
)
def trace(session_id: str | None, action_id: str | None, fmt: str) -> None:
    """A session's chain of actions: what triggered what, with times, bytes, status.

    Orphans (their triggering action is not stored) are shown and marked.
    """
    import uuid

    from spur.operations.trace import trace as build

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
        click.echo(trace_json(roots))
        return
    first = roots[0].row
    title = f"session {first['session_id']} (customer {first['customer_id']}, {first['login']})"
    console().print(trace_tree(title, roots))


COMMANDS = (trace,)
