"""Reconcile's differences that are not a batch in flight.

Workers write a batch's raw rows, then fold it (sums, capacity states, the
ids), then rewrite the hours and minutes it touched (``usage_hourly``,
``capacity_minutely``, what billing and capacity read). Between the raw rows
and the rewrite the raw actions are ahead of the aggregates. Hours and
minutes folded into lately are left out already (the settle time,
spur.operations.reconcile.in_flight); what that cannot see is a batch
whose raw rows are stored and whose fold has not come yet, in an hour
nothing was folded into lately. The raw side is only ever ahead that way
(reconcile reads the aggregates first), so a real difference is the
smallest one seen over a few readings a batch's time apart, and a window
that matched once is not different. :func:`settled` keeps, per customer
(or minute), the reading with the fewest missing actions, and drops those
that matched in any reading.

Blocking: sleeps between readings, only while differences are found.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from spur.operations.capacity_differences import CapacityDifference, reconcile_capacity
from spur.operations.compared_span import ComparedSpan
from spur.operations.reconcile import Difference, reconcile
from spur_sinks.store import Store

# Readings a second apart: longer than a batch's fold-to-rewrite (tens to
# hundreds of milliseconds; a 40,000-action batch's about a second).
READINGS = 3
READING_GAP_SECONDS = 1.0

T = TypeVar("T")


def settled(
    read: Callable[[], Sequence[T]],
    key: Callable[[T], Hashable],
    missing: Callable[[T], int],
    *,
    readings: int = READINGS,
    gap_seconds: float = READING_GAP_SECONDS,
) -> list[T]:
    """The differences of ``read`` present in every one of ``readings`` readings,
    each as in the reading where it missed the fewest actions (see the module)."""
    kept = {key(d): d for d in read()}
    for _ in range(readings - 1):
        if not kept:
            break
        time.sleep(gap_seconds)
        again = {key(d): d for d in read()}
        kept = {k: min(d, again[k], key=missing) for k, d in kept.items() if k in again}
    return list(kept.values())


def settled_usage(store: Store, span: ComparedSpan, readings: int = READINGS) -> list[Difference]:
    """:func:`spur.operations.reconcile.reconcile`'s differences that are not in flight."""
    found = settled(
        lambda: reconcile(store, span),
        lambda d: d.customer_id,
        lambda d: d.raw[2] - d.aggregated[2],
        readings=readings,
    )
    return sorted(found, key=lambda d: d.customer_id)


def settled_capacity(
    store: Store, span: ComparedSpan, readings: int = READINGS
) -> list[CapacityDifference]:
    """:func:`spur.operations.capacity_differences.reconcile_capacity`'s, not in flight."""
    found = settled(
        lambda: reconcile_capacity(store, span),
        lambda d: (d.action, d.minute),
        lambda d: int(d.raw[0] - d.aggregated[0]),
        readings=readings,
    )
    return sorted(found, key=lambda d: (d.action, d.minute))
