"""What ``spur demo`` shows once the pipeline has processed everything.

Billing (as the billing account), one session's trace and the dead letters
(as the engineer), read from the store while the worker runs, and the
worker's own figures from its ``/metrics``.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from spur.local_state import RunningStore
from spur.operations.billing import billing
from spur.operations.deadletters import dead_letter_report
from spur.operations.trace import trace
from spur.render import billing_table, trace_tree
from spur.settings import parse_store_url
from spur_schemas.errors import SpurError
from spur_sinks.store import ServerStore

FIGURES = (
    ("spur_events_in_total", "messages read"),
    ("spur_duplicates_total", "duplicates dropped"),
    ("spur_events_rejected_total", "rejected to dead letters"),
    ("spur_window_updates_total", "usage window states written"),
    ("spur_capacity_updates_total", "capacity window states written"),
    ("spur_batch_seconds_count", "batches"),
    ("spur_batch_seconds_sum", "seconds spent in batches"),
)


class DemoError(SpurError, RuntimeError):
    pass


@dataclass(frozen=True)
class Published:
    actions: int
    resent: int
    web: int
    session: str


def report(
    console: Console, state_dir: Path, local: RunningStore, month: str, sent: Published
) -> None:
    """Billing, a trace, dead letters (as read-only users) and the worker's figures."""
    try:
        state = json.loads((state_dir / "worker.json").read_text())
    except (OSError, ValueError) as exc:
        raise DemoError(f"the worker's endpoint is gone: {exc}") from exc
    # Billing as `spur billing` reads it: the billing account (the edge quarters
    # of a month are granted to it alone); the rest as the engineer.
    as_billing = ServerStore(parse_store_url(local.url("billing")), 30.0)
    try:
        usage = billing(as_billing, month)
    finally:
        as_billing.close()
    store = ServerStore(parse_store_url(local.url("engineer")), 30.0)
    console.print(billing_table([u.as_dict() for u in usage], month, "UTC"))
    billed = sum(u.actions for u in usage)
    console.print(f"billed actions: {billed:,} = published {sent.actions:,}, re-sent ones once")

    roots = trace(store, session_id=sent.session)
    console.print(trace_tree(f"trace of session {sent.session}", roots))

    letters = dead_letter_report(store, reason=None, since=None)
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(letters["counts"].items()))
    console.print(f"dead letters: {letters['total']} ({reasons or 'none'})")

    with urllib.request.urlopen(state["metrics"], timeout=10) as response:  # noqa: S310  # loopback
        exposed = response.read().decode()
    figures = Table(title="pipeline figures (worker /metrics)")
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    for name, label in FIGURES:
        total = sum(
            float(line.rsplit(" ", 1)[1])
            for line in exposed.splitlines()
            if line.startswith(name) and (line[len(name)] in " {")
        )
        figures.add_row(label, f"{total:,.2f}" if "seconds" in label else f"{total:,.0f}")
    console.print(figures)
    store.close()
