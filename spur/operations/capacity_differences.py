"""``spur reconcile``'s capacity half: each (action type, minute) against the raw actions.

What readers read (``capacity_minutely``) and the mergeable states the next
fold into a minute adds to (``capacity_states``) are both compared with the
minute recomputed from the raw actions; erased actions stay counted in
capacity by design (spur.operations.reconcile says how they are told apart).

Blocking.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from spur.operations.compared_span import ComparedSpan
from spur.operations.reconcile import erased_or_lost
from spur_sinks import capacity_differences as capacity_sql
from spur_sinks import reconcile as reconcile_sql
from spur_sinks.capacity_differences import CAPACITY_FIELDS
from spur_sinks.store import Store


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
    # Whether the minute holds any action whose raw row is gone, erased or lost:
    # its raw rows cannot say what it held (a repair leaves it alone).
    holds_missing_rows: bool = False
    # The mergeable states the next fold into the minute adds to, where they
    # differ from what readers read (``aggregated``): states that lost a fold
    # read right today and wrong after the next one, so they differ too.
    states: tuple[float, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "minute": self.minute.isoformat(),
            "aggregated": dict(zip(CAPACITY_FIELDS, self.aggregated, strict=True)),
            "raw": dict(zip(CAPACITY_FIELDS, self.raw, strict=True)),
            "states": None
            if self.states is None
            else dict(zip(CAPACITY_FIELDS, self.states, strict=True)),
            "explained_by_erasure": self.explained_by_erasure,
        }


def in_flight_minutes(store: Store, span: ComparedSpan) -> set[int]:
    """The capacity minutes of ``span`` (any action type) folded into lately."""
    start, end = span.capacity
    recent = reconcile_sql.recent_windows(store, start, end, span.settle_seconds, "Minute")
    return {minute for _customer, minute in recent}


# The capacity fields that an erased action adds to (the rest are quantiles).
_COUNTED = range(4)  # actions, error_actions, bytes_in, bytes_out


def reconcile_capacity(store: Store, span: ComparedSpan) -> list[CapacityDifference]:
    """Capacity minutes whose stored window differs from the raw actions, in ``span.capacity``."""
    start, end = span.capacity
    if start == end:
        return []
    # In the order a batch writes backwards (the minutes' windows, their states,
    # the raw rows), the minutes folded into lately last (as in reconcile).
    stored = capacity_sql.stored_capacity(store, start, end)
    states = capacity_sql.capacity_states(store, start, end)
    raw = capacity_sql.raw_capacity(store, start, end)
    reached, lost = erased_or_lost(
        store, reconcile_sql.ids_without_rows(store, start, end, "Minute")
    )
    busy = in_flight_minutes(store, span)  # read last, as in reconcile
    missing = (0, 0, 0, 0, 0.0, 0.0, 0.0)
    differing = sorted(
        k
        for k in set(stored) | set(states) | set(raw)
        if k[1] not in busy
        and not stored.get(k, missing) == states.get(k, missing) == raw.get(k, missing)
    )
    # A minute whose states differ from its window is damaged, whatever erasure explains.
    damaged_states = {k[1] for k in differing if stored.get(k, missing) != states.get(k, missing)}
    erased: dict[int, int] = {}
    for (_customer, minute), n in reached.items():
        erased[minute] = erased.get(minute, 0) + n
    without_rows = set(erased) | {minute for _customer, minute in lost}
    extra: dict[int, int] = {}  # per minute: stored actions more than raw, over its types
    counted_never_less: dict[int, bool] = {}
    for key in differing:
        kept = [stored.get(key, missing)[i] - raw.get(key, missing)[i] for i in _COUNTED]
        extra[key[1]] = extra.get(key[1], 0) + int(kept[0])
        counted_never_less[key[1]] = counted_never_less.get(key[1], True) and min(kept) >= 0
    explained = {
        minute
        for minute, n in extra.items()
        if erased.get(minute, 0) == n > 0
        and counted_never_less[minute]
        and minute not in damaged_states
    }
    return [
        CapacityDifference(
            key[0],
            dt.datetime.fromtimestamp(key[1], dt.UTC),
            stored.get(key, missing),
            raw.get(key, missing),
            key[1] in explained,
            key[1] in without_rows,
            None
            if states.get(key, missing) == stored.get(key, missing)
            else states.get(key, missing),
        )
        for key in differing
    ]
