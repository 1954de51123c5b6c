"""``spur reconcile``: aggregates against the raw actions.

Every accepted action is folded into its hour and its minute whatever its
arrival order (spur_streams.batch), so after any delivery the aggregates equal
what the raw actions give: ``reconcile`` reports no difference, for usage
(per customer) and for capacity (per action type and minute, every field).
Differences mean either an erasure (an erased login's raw actions are gone
while the customer's billing stays; an erased customer's actions stay in
capacity, which has no customer: by design) or a disaster (a store that lost
or doubled a fold, restored backups). The action ids an erasure keeps
(spur_sinks.tables) tell the two apart: a difference that is exactly a window's
ids without a raw row is ``explained_by_erasure``, where an erasure recorded in
the store could have removed those rows (the customer's, or any login's: a
login's tombstone names no customer). Ids without a raw row that no erasure
reaches are ``lost_raw_actions``: a store that lost raw rows, not explained.

``--repair``: spur.operations.repair. Capacity's comparison:
spur.operations.capacity_differences.

Only what no retention TTL may have touched is compared
(spur.operations.compared_span, which also says why usage covers whole UTC
hours).

Blocking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from spur.operations.compared_span import ComparedSpan, compared_span, hours_of_month, span_now
from spur_sinks import reconcile as reconcile_sql
from spur_sinks.reconcile import USAGE_FIELDS, Window
from spur_sinks.store import Store

__all__ = [
    "USAGE_FIELDS",
    "ComparedSpan",
    "Difference",
    "compared_span",
    "erased_or_lost",
    "hours_of_month",
    "reconcile",
    "span_now",
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
    # The customer's indexed action ids of these hours without a raw row that no
    # recorded erasure reaches: raw rows the store lost.
    lost_raw_actions: int = 0
    # The sums the next fold into these hours builds on (usage_sums), where they
    # differ from ``aggregated`` (what billing reads now): None, they do not.
    summed: tuple[int, int, int] | None = None
    # The quarter-hour sums (billing in a zone whose month does not begin on a
    # whole hour), where they differ from ``aggregated``.
    quartered: tuple[int, int, int] | None = None
    # Whether the customer itself was erased: a batch folding its later actions
    # between the erasure's unlinking of the ids and its deletes leaves ids kept
    # under the customer whose sums the erasure then deleted (found from outside,
    # under load), so billing may hold fewer than all its erased actions.
    customer_erased: bool = False
    # The customer's quarter hours whose sums differ from the raw actions' in
    # hours whose quarters add up right (rows moved between quarters of an hour:
    # billing off the whole hour shifts between months). Hours holding erased
    # or lost rows are not counted here: their quarters differ by those rows.
    misplaced_quarters: int = 0

    @property
    def explained_by_erasure(self) -> bool:
        """What billing reads and the sums each match the raw rows or hold exactly the
        erased actions more (nothing less): an erased login's actions, billed by
        design; for an erased customer, at most those (see ``customer_erased``)."""

        def explained(view: tuple[int, int, int]) -> bool:
            kept = [v - r for v, r in zip(view, self.raw, strict=True)]
            if not any(kept):
                return True
            if min(kept) < 0:
                return False
            erased = self.erased_actions
            return kept[2] <= erased if self.customer_erased else kept[2] == erased

        views = (self.aggregated, self.summed or self.aggregated, self.quartered or self.aggregated)
        return (
            self.erased_actions > 0 and not self.misplaced_quarters and all(map(explained, views))
        )

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
            "lost_raw_actions": self.lost_raw_actions,
            "summed": _named(self.summed),
            "quartered": _named(self.quartered),
            "misplaced_quarters": self.misplaced_quarters,
            "explained_by_erasure": self.explained_by_erasure,
        }


def _named(view: tuple[int, int, int] | None) -> dict[str, int] | None:
    return (
        None if view is None else dict(zip(("bytes_in", "bytes_out", "actions"), view, strict=True))
    )


def _counted(row: Any) -> tuple[int, int, int]:
    """A window's bytes in, bytes out and actions (nothing stored: zeros)."""
    if row is None:
        return (0, 0, 0)
    return (int(row["bytes_in"]), int(row["bytes_out"]), int(row["actions"]))


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


def reconcile(store: Store, span: ComparedSpan) -> list[Difference]:
    """Customers whose usage windows differ from their raw actions, in ``span.usage``."""
    start, end = span.usage
    if start == end:
        return []
    # Read in the order a batch writes backwards (hours, then sums, then raw rows),
    # and the windows folded into lately last: whatever a batch wrote between
    # these reads, its windows are among those and left out (in_flight).
    hourly = reconcile_sql.hourly_window_states(store, start, end)
    sums_by_window = reconcile_sql.summed_windows(store, start, end)
    quarters_by_window = reconcile_sql.quartered_windows(store, start, end)
    raw_by_window = reconcile_sql.raw_windows(store, start, end)
    off_quarters = reconcile_sql.misplaced_quarters(store, start, end)
    erased_windows, lost_windows = erased_or_lost(
        store, reconcile_sql.ids_without_rows(store, start, end)
    )
    erased_customers = reconcile_sql.erasure_reach(store)[0]
    not_folded_windows = reconcile_sql.rows_not_folded(store, start, end)
    busy = in_flight(store, span)
    aggregated, summed, quartered, raw = (
        _totals(_quiet(t, busy))
        for t in (hourly, sums_by_window, quarters_by_window, raw_by_window)
    )
    moved = {
        window: n
        for window, n in off_quarters.items()
        if _counted(quarters_by_window.get(window)) == _counted(raw_by_window.get(window))
    }
    erased, lost, not_folded, misplaced = (
        _per_customer(_quiet(t, busy))
        for t in (erased_windows, lost_windows, not_folded_windows, moved)
    )
    differences = []
    for customer in sorted(set(aggregated) | set(summed) | set(quartered) | set(raw)):
        billed, sums, quarters, rows = (
            t.get(customer, (0, 0, 0)) for t in (aggregated, summed, quartered, raw)
        )
        # Rows not in the dedup index where nothing is in flight: a lost index row
        # (a re-sent copy would be billed twice) or a stopped worker's batch.
        if (
            billed == sums == quarters == rows
            and not not_folded.get(customer)
            and not misplaced.get(customer)
        ):
            continue
        differences.append(
            Difference(
                customer,
                billed,
                rows,
                erased_actions=erased.get(customer, 0),
                customer_erased=customer in erased_customers,
                not_folded_actions=not_folded.get(customer, 0),
                lost_raw_actions=lost.get(customer, 0),
                summed=None if sums == billed else sums,
                quartered=None if quarters == billed else quarters,
                misplaced_quarters=misplaced.get(customer, 0),
            )
        )
    return differences


def in_flight(store: Store, span: ComparedSpan) -> set[Window]:
    """The usage windows (customer, hour) of ``span`` folded into within its
    ``settle_seconds``: a batch in flight, compared on a later run."""
    start, end = span.usage
    return reconcile_sql.recent_windows(store, start, end, span.settle_seconds)


V = TypeVar("V")


def _quiet(by_window: dict[Window, V], busy: set[Window]) -> dict[Window, V]:
    return {window: value for window, value in by_window.items() if window not in busy}


def erased_or_lost(
    store: Store, without_rows: dict[Window, int]
) -> tuple[dict[Window, int], dict[Window, int]]:
    """Ids without a raw row per (customer, hour or minute), split into those a
    recorded erasure may have removed and those no erasure reaches (lost)."""
    customers, any_login = reconcile_sql.erasure_reach(store)
    erased: dict[Window, int] = {}
    lost: dict[Window, int] = {}
    for window, n in without_rows.items():
        (erased if any_login or window[0] in customers else lost)[window] = n
    return erased, lost


def _per_customer(by_window: dict[Window, int]) -> dict[int, int]:
    totals: dict[int, int] = {}
    for (customer, _hour), n in by_window.items():
        totals[customer] = totals.get(customer, 0) + n
    return totals
