"""``spur reconcile``: a month's aggregates against its raw actions (and their repair)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from spur.cli.common import TABLE_OR_JSON, privileged_reader_for, settings_from_env, writer_for
from spur.operations.periods import billing_zone
from spur.render import emit_rows

if TYPE_CHECKING:
    from spur.operations.capacity_differences import CapacityDifference
    from spur.operations.reconcile import ComparedSpan, Difference


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
def reconcile(month: str, tz: str | None, repair: bool, fmt: str) -> None:
    """Compare a month's usage (per customer) and capacity (per action and minute)
    with the raw actions.

    Every action is folded whatever its arrival order, so there is no
    difference unless actions were erased (billing and capacity keep
    counting them: such a difference is reported as explained by erasure
    when it is exactly the erased actions; a raw row gone that no recorded
    erasure reaches is reported as lost) or the store lost data. --repair
    (a disaster tool; workers may keep running) rebuilds each differing
    window from the raw actions, by content, as a correction that also
    outranks any stale published state; windows holding erased actions, or
    actions stored but not folded yet, are reported, not rewritten (run it
    again once the workers caught up).
    Workers may run meanwhile: a difference counts only if three readings a
    second apart all show it (a batch in flight is not one). Only the hours
    and minutes no retention TTL may be deleting are compared.
    Exit code 1 while a difference is not explained by erasure, else 0.
    """
    from spur.operations.capacity_differences import in_flight_minutes
    from spur.operations.compared_span import span_now
    from spur.operations.reconcile import in_flight
    from spur.operations.repair import repair as repair_month
    from spur.operations.settled import settled_capacity, settled_usage

    settings = settings_from_env()
    # A bad month or zone exits 2 before any connection.
    timezone = billing_zone(month, tz, settings.billing.timezone)
    store = writer_for(settings) if repair else privileged_reader_for(settings)
    try:
        span = span_now(store, month, timezone, settings.billing.reconcile_settle_seconds)
        # Differences that held over readings a batch's time apart: not a batch
        # the workers are writing (spur.operations.settled).
        before = settled_usage(store, span)
        capacity = settled_capacity(store, span)
        repaired = repair_month(store, span) if repair and (before or capacity) else 0
        after = settled_usage(store, span) if repaired else before
        capacity_after = settled_capacity(store, span) if repaired else capacity
        left_out = {
            "usage_windows": len(in_flight(store, span)),
            "capacity_minutes": len(in_flight_minutes(store, span)),
        }
    finally:
        store.close()
    unexplained = [d for d in after if not d.explained_by_erasure]
    capacity_unexplained = [d for d in capacity_after if not d.explained_by_erasure]
    if fmt == "json":
        document = {
            "month": month,
            "timezone": timezone,
            "compared": span.as_dict(),
            "in_flight": left_out,
            "differences": [d.as_dict() for d in before],
            "capacity_differences": [d.as_dict() for d in capacity],
            "windows_repaired": repaired,
            "remaining": len(unexplained),
            "capacity_remaining": len(capacity_unexplained),
        }
        click.echo(json.dumps(document, indent=2))
    else:
        _print_span(span)
        if any(left_out.values()):
            click.echo(
                f"left out, folded into within {span.settle_seconds} s (a batch in flight): "
                f"{left_out['usage_windows']} usage hours, "
                f"{_minutes(left_out['capacity_minutes'])} of capacity"
            )
        if not span.empty:
            _print_reconcile(month, timezone, before, capacity)
        if repair:
            click.echo(
                f"repaired {repaired} windows; {len(unexplained)} customers and "
                f"{_minutes(len(capacity_unexplained))} of capacity still differ"
            )
    if unexplained or capacity_unexplained:
        sys.exit(1)


def _print_span(span: ComparedSpan) -> None:
    """Say what of the month the store's TTLs may be deleting (left out)."""
    if span.empty:
        click.echo(
            f"{span.month} ({span.timezone}) is past the store's retention "
            f"({_days(span.usage_days)} for actions): nothing left to compare"
        )
    elif span.clipped:
        click.echo(
            f"compared from {span.usage[0].isoformat()} (usage) and "
            f"{span.capacity[0].isoformat()} (capacity): the store's retention "
            f"({_days(span.usage_days)} for actions and usage, "
            f"{_days(span.capacity_days)} for capacity and its actions) is deleting what is older"
        )


def _days(n: int | None) -> str:
    return "no limit" if n is None else f"{n} day" if n == 1 else f"{n} days"


def _print_reconcile(
    month: str, timezone: str, usage: list[Difference], capacity: list[CapacityDifference]
) -> None:
    if not usage and not capacity:
        click.echo(f"{month} ({timezone}): usage and capacity match the raw actions")
        return
    if usage:
        rows = [
            {
                "customer_id": d.customer_id,
                "missing_actions": d.raw[2] - d.aggregated[2],
                "aggregated_bytes": d.aggregated[0] + d.aggregated[1],
                "raw_bytes": d.raw[0] + d.raw[1],
                "why": _why(d),
            }
            for d in usage
        ]
        emit_rows(rows, "table", title=f"usage differences {month} ({timezone})")
    else:
        click.echo(f"usage {month} ({timezone}): every customer matches the raw actions")
    if capacity:
        erased = len({d.minute for d in capacity if d.explained_by_erasure})
        others = len({d.minute for d in capacity if not d.explained_by_erasure})
        click.echo(
            f"capacity: {_minutes(erased)} hold erased actions (counted by design), "
            f"{_minutes(others)} differ otherwise"
        )
    else:
        click.echo("capacity: every minute matches the raw actions")


def _minutes(n: int) -> str:
    return f"{n} minute" if n == 1 else f"{n} minutes"


def _why(difference: Difference) -> str:  # noqa: PLR0911  # one answer per case
    d = difference
    if d.explained_by_erasure:
        return f"{d.erased_actions} erased actions, billed by design"
    if d.lost_raw_actions:  # --repair leaves such hours alone
        return f"{d.lost_raw_actions} raw rows lost, not erased: restore from a backup"
    if d.erased_actions:  # --repair leaves such hours alone
        return f"differs beyond its {d.erased_actions} erased actions: restore from a backup"
    if d.not_folded_actions and d.aggregated == d.raw and not (d.summed or d.quartered):
        return (
            f"{d.not_folded_actions} stored actions not in the dedup index: a stopped "
            "worker's batch not read again yet, or lost index rows (a re-sent copy "
            "would be billed twice)"
        )
    if d.not_folded_actions:
        return (
            f"{d.not_folded_actions} actions stored, not folded yet "
            "(a stopped worker's batch, folded when it is read again)"
        )
    if d.quartered is not None:
        return "the quarter-hour sums (billing off the whole hour) differ: restore from a backup"
    if d.summed is not None and d.summed == d.raw:
        return "billing's states lag their sums (a stopped worker's batch): --repair"
    if d.aggregated == d.raw:
        return "billed right now, but the sums the next fold builds on differ: --repair"
    return "lost or doubled folds: --repair"


COMMANDS = (reconcile,)
