"""``spur reconcile``: hourly aggregates against the raw actions, and repair.

Aggregates trail the raw table by actions that arrived later than the
allowed lateness (stored raw, counted, not folded); they exceed it where a
login was erased (its actions are gone, the customer's billing stays). Reconcile compares,
per customer, a month's totals from ``usage_hourly`` with those from the
deduplicated ``actions``; ``--repair`` rewrites every differing window from
the raw rows, with ``version`` = the highest source offset among them, which
is exactly "everything up to here is folded in" for the stream that follows.

Blocking. Repair must not run while a worker holds cached window states of
the same store (the CLI refuses in embedded mode; stop server-mode workers).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sinks.store import Store
from spur.billing import month_bounds


@dataclass(frozen=True)
class Difference:
    customer_id: int
    aggregated: tuple[int, int, int]  # bytes_in, bytes_out, actions
    raw: tuple[int, int, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "aggregated": dict(
                zip(("bytes_in", "bytes_out", "actions"), self.aggregated, strict=True)
            ),
            "raw": dict(zip(("bytes_in", "bytes_out", "actions"), self.raw, strict=True)),
            "missing_actions": self.raw[2] - self.aggregated[2],
        }


def _window_sql(store: Store, start: dt.datetime, end: dt.datetime, source: str) -> str:
    a, b = int(start.timestamp()), int(end.timestamp())
    if source == "raw":
        return f"""
            SELECT customer_id, toUnixTimestamp(toStartOfHour(started_at)) AS hour,
                   sum(toUInt128(bytes_in)) AS bytes_in, sum(toUInt128(bytes_out)) AS bytes_out,
                   count() AS actions, countIf(status = 'error') AS error_actions,
                   sum(toUInt64(greatest(0, dateDiff('millisecond', started_at, ended_at))))
                       AS duration_ms,
                   max(kafka_offset) AS version
            FROM {store.database}.actions FINAL
            WHERE started_at >= toDateTime64({a}, 3, 'UTC')
              AND started_at < toDateTime64({b}, 3, 'UTC')
            GROUP BY customer_id, hour"""
    return f"""
        SELECT customer_id, toUnixTimestamp(hour) AS hour, bytes_in, bytes_out, actions,
               error_actions, duration_ms, version
        FROM {store.database}.usage_hourly FINAL
        WHERE hour >= toDateTime({a}, 'UTC') AND hour < toDateTime({b}, 'UTC')"""


def _windows(
    store: Store, month: str, timezone: str, source: str
) -> dict[tuple[int, int], dict[str, Any]]:
    start, end = month_bounds(month, timezone)
    rows = store.query(_window_sql(store, start, end, source))
    return {(int(r["customer_id"]), int(r["hour"])): r for r in rows}


def _totals(windows: dict[tuple[int, int], dict[str, Any]]) -> dict[int, tuple[int, int, int]]:
    totals: dict[int, tuple[int, int, int]] = {}
    for (customer, _hour), row in windows.items():
        b_in, b_out, n = totals.get(customer, (0, 0, 0))
        totals[customer] = (
            b_in + int(row["bytes_in"]),
            b_out + int(row["bytes_out"]),
            n + int(row["actions"]),
        )
    return totals


def reconcile(store: Store, month: str, timezone: str = "UTC") -> list[Difference]:
    """Customers whose aggregated month differs from their raw actions."""
    aggregated = _totals(_windows(store, month, timezone, "usage"))
    raw = _totals(_windows(store, month, timezone, "raw"))
    return [
        Difference(customer, aggregated.get(customer, (0, 0, 0)), raw.get(customer, (0, 0, 0)))
        for customer in sorted(set(aggregated) | set(raw))
        if aggregated.get(customer, (0, 0, 0)) != raw.get(customer, (0, 0, 0))
    ]


def repair(store: Store, month: str, timezone: str = "UTC") -> int:
    """Rewrite every window of the month whose aggregate differs from raw; return how many."""
    aggregated = _windows(store, month, timezone, "usage")
    raw = _windows(store, month, timezone, "raw")
    fields = ("bytes_in", "bytes_out", "actions", "error_actions", "duration_ms")
    # Only windows that lack raw actions are rewritten. A window with fewer raw
    # actions than aggregated ones lost them to an erasure of a login: the
    # customer's billing record stands and is not reduced.
    stale = [
        key for key, row in raw.items()
        if key not in aggregated or int(row["actions"]) > int(aggregated[key]["actions"])
    ]  # fmt: skip
    if stale:
        now = dt.datetime.now(dt.UTC)
        store.insert(
            "usage_hourly",
            {
                "customer_id": [key[0] for key in stale],
                "hour": [dt.datetime.fromtimestamp(key[1], dt.UTC) for key in stale],
                **{f: [int(raw[key][f]) for key in stale] for f in fields},
                "version": [
                    max(int(raw[key]["version"]), int(aggregated.get(key, {}).get("version", 0)))
                    for key in stale
                ],
                "updated_at": [now for _ in stale],
            },
        )
    return len(stale)
