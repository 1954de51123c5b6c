"""``spur reconcile --repair``: the month's windows rewritten from the raw actions.

``--repair`` decides by content, window by window: it recomputes each
window from the raw actions and compares every field with the stored sums.
A differing window is rewritten, unless some of its indexed action ids have
no raw row any more (an erased login): the raw rows cannot say what such a
window held, so it is reported and left alone (for capacity: the minute).
Usage is corrected by adding the difference to the sums (so folds that
follow build on it); capacity minutes get their state rebuilt from the raw
actions. The windows are read and written by spur_sinks.reconcile.

Only the span reconcile compares is read and written: an hour or minute a
retention TTL may be deleting is left alone (rebuilt from what the TTL left
of its raw rows, it would be wrong; spur.operations.reconcile).

Workers may keep running during a repair. A window is corrected only when
two readings in a row agree on its difference and none of its raw actions
waits for its fold (a batch between its raw rows and its fold, or one a
stopped worker stored and did not fold: the fold comes when the batch is
read again, and a correction before it would count those actions twice).
A fold during one reading's queries makes that reading disagree with the
other, so the window is left for the next run; so is a window with actions
not folded yet (``not_folded_actions`` in the report). Capacity's rebuild
deletes a minute's states and inserts them again from the raw actions: a
fold into that minute between the two is counted twice there (capacity,
not billing), and the repair's next round (of three) rebuilds it again.

Blocking.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from spur.operations.capacity_differences import reconcile_capacity
from spur.operations.reconcile import ComparedSpan, in_flight
from spur_sinks import reconcile as reconcile_sql
from spur_sinks.reconcile import USAGE_FIELDS, Minute, Window
from spur_sinks.store import Store

__all__ = ["repair"]


@dataclass(frozen=True)
class _UsageReading:
    """One reading of a month's usage windows against the raw actions."""

    # Raw minus summed (USAGE_FIELDS), per differing window a repair may correct:
    # none of its indexed ids lost its raw row, none of its raw rows waits for its fold.
    changes: dict[Window, dict[str, int]]
    summed: dict[Window, Any]
    # Windows the raw rows cannot vouch for: ids without a raw row (erased or
    # lost), or raw rows waiting for their fold. Never rewritten, by either step.
    unvouched: set[Window]


def _read_usage(store: Store, start: dt.datetime, end: dt.datetime) -> _UsageReading:
    raw = reconcile_sql.raw_windows(store, start, end)
    summed = reconcile_sql.summed_windows(store, start, end)
    erased = reconcile_sql.ids_without_rows(store, start, end)
    # Read last: a row stored before the raw read whose fold came after the sums
    # were read is still not folded here, or the other reading disagrees.
    not_folded = reconcile_sql.rows_not_folded(store, start, end)
    changes = {
        key: {
            f: int(raw.get(key, {}).get(f, 0)) - int(summed.get(key, {}).get(f, 0))
            for f in USAGE_FIELDS
        }
        for key in set(raw) | set(summed)
        if key not in erased and key not in not_folded
    }
    return _UsageReading(
        {k: c for k, c in changes.items() if any(c.values())}, summed, set(erased) | set(not_folded)
    )


def repair(store: Store, span: ComparedSpan) -> int:
    """Rewrite, by content, every window in ``span`` (what reconcile compares: no
    TTL has touched it) that differs from raw and that two readings agree on
    (module docstring); return how many."""
    start, end = span.usage
    first = _read_usage(store, start, end)
    second = _read_usage(store, start, end)
    busy = in_flight(store, span)  # folded into lately: left to their workers
    stale = sorted(
        key
        for key, change in second.changes.items()
        if first.changes.get(key) == change and key not in busy
    )
    if stale:
        # One correction row per window: the sums become exactly the raw values,
        # and their update count passes the version in usage_hourly (sums that
        # lost rows count fewer updates than were written there, and a lower
        # version would lose to the stale state in usage_hourly).
        written = reconcile_sql.hourly_window_states(store, start, end)

        def updates(key: Window) -> int:
            counted = int(second.summed.get(key, {}).get("updates", 0))
            shown = int(written[key]["version"]) if key in written else -1
            return max(1, shown - counted + 1)

        changes = {key: second.changes[key] for key in stale}
        reconcile_sql.add_to_sums(store, changes, {key: updates(key) for key in stale})
    # Window states from the sums, for every window whose usage_hourly state lags them
    # (counted too: a state billing read wrong, rewritten).
    rewritten = _rewrite_window_states(store, start, end, busy | first.unvouched | second.unvouched)
    return len(set(stale) | rewritten) + _repair_capacity(store, span)


def _rewrite_window_states(
    store: Store, start: dt.datetime, end: dt.datetime, left_alone: set[Window]
) -> set[Window]:
    """Billing's states from the sums, where they lag them; not ``left_alone``'s:
    in flight, or holding ids without a raw row (sums that took damage there
    would be copied into billing: found from outside)."""
    summed = reconcile_sql.summed_windows(store, start, end)
    written = reconcile_sql.hourly_window_states(store, start, end)
    behind = {
        key: row
        for key, row in summed.items()
        if key not in left_alone
        and (key not in written or any(int(row[f]) != int(written[key][f]) for f in USAGE_FIELDS))
    }
    if behind:
        reconcile_sql.write_window_states(store, behind)
    return set(behind)


def _capacity_to_rebuild(store: Store, span: ComparedSpan) -> dict[Minute, Any]:
    """Differing minutes a rebuild may rewrite, with what they hold and should hold."""
    start, end = span.capacity
    # The ids index has no action type: a minute with any action whose raw row is
    # gone (erased, or lost: rebuilt from the rest, it would hide the loss) is left alone.
    differing = {
        (d.action, int(d.minute.timestamp())): (d.aggregated, d.raw)
        for d in reconcile_capacity(store, span)
        if not d.holds_missing_rows
    }
    not_folded = {  # read last, as in _read_usage
        minute for _customer, minute in reconcile_sql.rows_not_folded(store, start, end, "Minute")
    }
    return {key: values for key, values in differing.items() if key[1] not in not_folded}


# Rounds of capacity rebuilds in one repair: a fold into a minute between a
# rebuild's delete and its insert is counted twice, which the next round's
# readings show as a difference and rebuild again.
CAPACITY_ROUNDS = 3


def _repair_capacity(store: Store, span: ComparedSpan) -> int:
    start, end = span.capacity
    rebuilt = 0
    for _round in range(CAPACITY_ROUNDS):
        first = _capacity_to_rebuild(store, span)
        second = _capacity_to_rebuild(store, span)
        agreed = sorted(key for key, values in second.items() if first.get(key) == values)
        if not agreed:
            break
        reconcile_sql.rebuild_capacity(store, start, end, agreed)
        rebuilt += len(agreed)
    return rebuilt
