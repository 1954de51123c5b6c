"""``spur reconcile``'s capacity reads: each (action type, minute) as readers read it,
as the states the next fold adds to, and as the raw actions give it.

Keyed by (action type, minute as epoch seconds); the values in
:data:`CAPACITY_FIELDS`' order. What differs is decided in
spur.operations.capacity_differences.

Blocking. Raises :class:`spur_sinks.store.StoreError`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from spur_sinks.reconcile import Minute, time_range
from spur_sinks.store import Store

CAPACITY_FIELDS = (
    "actions", "error_actions", "bytes_in", "bytes_out",
    "duration_p50_ms", "duration_p95_ms", "duration_p99_ms",
)  # fmt: skip


def _capacity_values(row: dict[str, Any]) -> tuple[float, ...]:
    return (
        int(row["actions"]), int(row["error_actions"]), int(row["bytes_in"]),
        int(row["bytes_out"]), *(float(q) for q in row["q"]),
    )  # fmt: skip


def stored_capacity(
    store: Store, start: dt.datetime, end: dt.datetime
) -> dict[Minute, tuple[float, ...]]:
    """The stored capacity windows (CAPACITY_FIELDS) per (action, minute)."""
    rows = store.query(f"""
        SELECT action, toUnixTimestamp(minute) AS minute, actions, error_actions,
               bytes_in, bytes_out, [duration_p50_ms, duration_p95_ms, duration_p99_ms] AS q
        FROM {store.database}.capacity_minutely FINAL
        WHERE {time_range(start, end, "minute", 0)}""")
    return {(r["action"], int(r["minute"])): _capacity_values(r) for r in rows}


def capacity_states(
    store: Store, start: dt.datetime, end: dt.datetime
) -> dict[Minute, tuple[float, ...]]:
    """The mergeable states (CAPACITY_FIELDS) per (action, minute) that the next fold
    into a minute adds to, finalized as the worker's refresh finalizes them."""
    rows = store.query(f"""
        SELECT action, toUnixTimestamp(minute) AS minute, sum(actions) AS actions,
               sum(error_actions) AS error_actions, sum(bytes_in) AS bytes_in,
               sum(bytes_out) AS bytes_out,
               quantilesExactMerge(0.5, 0.95, 0.99)(durations) AS q
        FROM {store.database}.capacity_states
        WHERE {time_range(start, end, "minute", 0)}
        GROUP BY action, minute""")
    return {(r["action"], int(r["minute"])): _capacity_values(r) for r in rows}


def raw_capacity(
    store: Store, start: dt.datetime, end: dt.datetime
) -> dict[Minute, tuple[float, ...]]:
    """Capacity windows (CAPACITY_FIELDS) per (action, minute) from the raw actions."""
    rows = store.query(f"""
        SELECT action, toUnixTimestamp(toStartOfMinute(started_at)) AS minute,
               count() AS actions, countIf(status = 'error') AS error_actions,
               sum(toUInt128(bytes_in)) AS bytes_in, sum(toUInt128(bytes_out)) AS bytes_out,
               quantilesExact(0.5, 0.95, 0.99)(
                   toFloat64(dateDiff('millisecond', started_at, ended_at))) AS q
        FROM {store.database}.actions FINAL
        WHERE {time_range(start, end, "started_at")}
        GROUP BY action, minute""")
    return {(r["action"], int(r["minute"])): _capacity_values(r) for r in rows}
