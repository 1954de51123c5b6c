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

    Every stored action is shown once. Orphans (their triggering action is not
    stored) and actions whose triggers loop back to them are shown at the top,
    marked; a chain deeper than the tree can nest (100 levels; fewer in a narrow
    terminal, so that labels stay readable) continues at the top, marked.
    """
    import uuid

    from spur.operations.trace import MAX_DEPTH
    from spur.operations.trace import trace as build

    if (session_id is None) == (action_id is None):
        raise click.UsageError("name exactly one of --session ID or --action UUID")
    if action_id is not None:
        try:
            uuid.UUID(action_id)
        except ValueError as exc:
            raise click.UsageError(f"--action {action_id!r}: not a UUID") from exc
    settings = settings_from_env()
    out = console()
    depth = MAX_DEPTH if fmt == "json" else min(MAX_DEPTH, tree_depth(out.width))
    store = reader_for(settings)
    try:
        roots = build(store, session_id=session_id, action_id=action_id, max_depth=depth)
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
    out.print(trace_tree(title, roots))


# Each level of the tree indents 4 columns; a label needs about this many to be
# read. Found from outside: in an 80-column terminal a chain of 150 actions showed
# 39, the deeper labels wrapped into 4-column strips and then vanished.
_LABEL_COLUMNS = 40


def tree_depth(width: int) -> int:
    """How deep a tree can nest in ``width`` columns and keep its labels readable
    (deeper actions continue at the top level, marked)."""
    return max(1, (width - _LABEL_COLUMNS) // 4)


COMMANDS = (trace,)
