"""``spur reconcile``: aggregates against the raw actions, and repair after a disaster.

Every accepted action is folded into its hour and its minute whatever its
arrival order (spur_streams.batch), so after any delivery the aggregates equal
what the raw actions give: ``reconcile`` reports no difference, for usage
(per customer) and for capacity (per action type and minute, every field).
Differences mean either an erasure (an erased login's raw actions are gone
while the customer's billing stays; an erased customer's actions stay in
capacity, which has no customer: by design) or a disaster (a store that lost
or doubled a fold, restored backups). The action ids an erasure keeps
(spur_sinks.tables) tell the two apart: a difference that is exactly a window's
ids without a raw row is ``explained_by_erasure``.

``--repair`` decides by content, window by window: it recomputes each
window from the raw actions and compares every field with the stored sums.
A differing window is rewritten, unless some of its indexed action ids have
no raw row any more (an erased login): the raw rows cannot say what such a
window held, so it is reported and left alone (for capacity: the minute).
Usage is corrected by adding the difference to the sums (so folds that
follow build on it); capacity minutes get their state rebuilt from the raw
actions. The windows are read and written by spur_sinks.reconcile.

Usage windows are whole UTC hours, so in a zone whose month does not begin
on a whole hour (Asia/Kolkata, Asia/Kathmandu) the usage check covers the
hours that hold the zone's month, up to 45 minutes more on each side: cut at
the zone's bound, the raw side of a window would hold part of an hour and a
repair would overwrite a correct window with that part.

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
not billing); the next reconcile reports the minute.

Blocking.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from spur.operations.periods import month_bounds
from spur_sinks import reconcile as reconcile_sql
from spur_sinks.reconcile import CAPACITY_FIELDS, USAGE_FIELDS, Minute, Window
from spur_sinks.store import Store

__all__ = [
    "CAPACITY_FIELDS", "USAGE_FIELDS", "CapacityDifference", "Difference", "reconcile",
    "reconcile_capacity", "repair",
]  # fmt: skip


@dataclass(frozen=True)
class Difference:
    customer_id: int
    aggregated: tuple[int, int, int]  # bytes_in, bytes_out, actions
    raw: tuple[int, int, int]
    # The customer's indexed action ids of these hours whose raw row was erased.
    erased_actions: int = 0
    # The customer's raw actions of these hours whose fold has not come yet.
    not_folded_actions: int = 0

    @property
    def explained_by_erasure(self) -> bool:
        """The aggregates hold exactly the erased actions more than the raw rows (and
        nothing less): an erased login's actions, billed by design."""
        kept = [a - r for a, r in zip(self.aggregated, self.raw, strict=True)]
        return self.erased_actions > 0 and kept[2] == self.erased_actions and min(kept) >= 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "aggregated": dict(
                zip(("bytes_in", "bytes_out", "actions"), self.aggregated, strict=True)
            ),
            "raw": dict(zip(("bytes_in", "bytes_out", "actions"), self.raw, strict=True)),
            "missing_actions": self.raw[2] - self.aggregated[2],
            "erased_actions": self.erased_actions,
            "not_folded_actions": self.not_folded_actions,
            "explained_by_erasure": self.explained_by_erasure,
        }


@dataclass(frozen=True)
class CapacityDifference:
    action: str
    minute: dt.datetime
    aggregated: tuple[float, ...]  # CAPACITY_FIELDS
    raw: tuple[float, ...]
    # Whether the minute's differences are exactly its erased actions (of any customer):
    # capacity keeps counting them, as billing does (the ids index has no action type,
    # so this is decided per minute, over its action types).
    explained_by_erasure: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "minute": self.minute.isoformat(),
            "aggregated": dict(zip(CAPACITY_FIELDS, self.aggregated, strict=True)),
            "raw": dict(zip(CAPACITY_FIELDS, self.raw, strict=True)),
            "explained_by_erasure": self.explained_by_erasure,
        }


def _totals(by_window: dict[Window, Any]) -> dict[int, tuple[int, int, int]]:
    totals: dict[int, tuple[int, int, int]] = {}
    for (customer, _hour), row in by_window.items():
        b_in, b_out, n = totals.get(customer, (0, 0, 0))
        totals[customer] = (
            b_in + int(row["bytes_in"]),
            b_out + int(row["bytes_out"]),
            n + int(row["actions"]),
        )
    return totals


def _hours_of_month(month: str, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The whole UTC hours that hold ``month`` in ``timezone`` (see the module docstring)."""
    start, end = month_bounds(month, timezone)
    first = start.replace(minute=0, second=0, microsecond=0)
    after = end.replace(minute=0, second=0, microsecond=0)
    return first, after if after == end else after + dt.timedelta(hours=1)


def reconcile(store: Store, month: str, timezone: str = "UTC") -> list[Difference]:
    """Customers whose usage windows of the month differ from their raw actions."""
    start, end = _hours_of_month(month, timezone)
    aggregated = _totals(reconcile_sql.hourly_window_states(store, start, end))
    raw = _totals(reconcile_sql.raw_windows(store, start, end))
    erased = _per_customer(reconcile_sql.ids_without_rows(store, start, end))
    not_folded = _per_customer(reconcile_sql.rows_not_folded(store, start, end))
    return [
        Difference(
            customer,
            aggregated.get(customer, (0, 0, 0)),
            raw.get(customer, (0, 0, 0)),
            erased.get(customer, 0),
            not_folded.get(customer, 0),
        )
        for customer in sorted(set(aggregated) | set(raw))
        if aggregated.get(customer, (0, 0, 0)) != raw.get(customer, (0, 0, 0))
    ]


def _per_customer(by_window: dict[Window, int]) -> dict[int, int]:
    totals: dict[int, int] = {}
    for (customer, _hour), n in by_window.items():
        totals[customer] = totals.get(customer, 0) + n
    return totals


# The capacity fields that an erased action adds to (the rest are quantiles).
_COUNTED = range(4)  # actions, error_actions, bytes_in, bytes_out


def reconcile_capacity(store: Store, month: str, timezone: str = "UTC") -> list[CapacityDifference]:
    """Capacity minutes of the month whose stored window differs from the raw actions."""
    start, end = month_bounds(month, timezone)
    stored = reconcile_sql.stored_capacity(store, start, end)
    raw = reconcile_sql.raw_capacity(store, start, end)
    missing = (0, 0, 0, 0, 0.0, 0.0, 0.0)
    differing = sorted(
        k for k in set(stored) | set(raw) if stored.get(k, missing) != raw.get(k, missing)
    )
    erased: dict[int, int] = {}
    for (_customer, minute), n in reconcile_sql.ids_without_rows(
        store, start, end, "Minute"
    ).items():
        erased[minute] = erased.get(minute, 0) + n
    extra: dict[int, int] = {}  # per minute: stored actions more than raw, over its types
    counted_never_less: dict[int, bool] = {}
    for key in differing:
        kept = [stored.get(key, missing)[i] - raw.get(key, missing)[i] for i in _COUNTED]
        extra[key[1]] = extra.get(key[1], 0) + int(kept[0])
        counted_never_less[key[1]] = counted_never_less.get(key[1], True) and min(kept) >= 0
    explained = {
        minute
        for minute, n in extra.items()
        if erased.get(minute, 0) == n > 0 and counted_never_less[minute]
    }
    return [
        CapacityDifference(
            key[0],
            dt.datetime.fromtimestamp(key[1], dt.UTC),
            stored.get(key, missing),
            raw.get(key, missing),
            key[1] in explained,
        )
        for key in differing
    ]


@dataclass(frozen=True)
class _UsageReading:
    """One reading of a month's usage windows against the raw actions."""

    # Raw minus summed (USAGE_FIELDS), per differing window a repair may correct:
    # none of its indexed ids lost its raw row, none of its raw rows waits for its fold.
    changes: dict[Window, dict[str, int]]
    summed: dict[Window, Any]


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
    return _UsageReading({k: c for k, c in changes.items() if any(c.values())}, summed)


def repair(store: Store, month: str, timezone: str = "UTC") -> int:
    """Rewrite, by content, every window of the month that differs from raw and
    that two readings agree on (module docstring); return how many."""
    start, end = _hours_of_month(month, timezone)
    first = _read_usage(store, start, end)
    second = _read_usage(store, start, end)
    stale = sorted(
        key for key, change in second.changes.items() if first.changes.get(key) == change
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
    # Window states from the sums, for every window whose usage_hourly state lags them.
    _rewrite_window_states(store, start, end)
    return len(stale) + _repair_capacity(store, month, timezone)


def _rewrite_window_states(store: Store, start: dt.datetime, end: dt.datetime) -> None:
    summed = reconcile_sql.summed_windows(store, start, end)
    written = reconcile_sql.hourly_window_states(store, start, end)
    behind = {
        key: row
        for key, row in summed.items()
        if key not in written or any(int(row[f]) != int(written[key][f]) for f in USAGE_FIELDS)
    }
    if behind:
        reconcile_sql.write_window_states(store, behind)


def _capacity_to_rebuild(store: Store, month: str, timezone: str) -> dict[Minute, Any]:
    """Differing minutes a rebuild may rewrite, with what they hold and should hold."""
    start, end = month_bounds(month, timezone)
    # The ids index has no action type: a minute with any erased action is left alone.
    erased = {
        minute for _customer, minute in reconcile_sql.ids_without_rows(store, start, end, "Minute")
    }
    differing = {
        (d.action, int(d.minute.timestamp())): (d.aggregated, d.raw)
        for d in reconcile_capacity(store, month, timezone)
        if not d.explained_by_erasure
    }
    not_folded = {  # read last, as in _read_usage
        minute for _customer, minute in reconcile_sql.rows_not_folded(store, start, end, "Minute")
    }
    return {
        key: values
        for key, values in differing.items()
        if key[1] not in erased and key[1] not in not_folded
    }


def _repair_capacity(store: Store, month: str, timezone: str) -> int:
    first = _capacity_to_rebuild(store, month, timezone)
    second = _capacity_to_rebuild(store, month, timezone)
    agreed = sorted(key for key, values in second.items() if first.get(key) == values)
    if agreed:
        start, end = month_bounds(month, timezone)
        reconcile_sql.rebuild_capacity(store, start, end, agreed)
    return len(agreed)
