"""``spur reconcile``: aggregates against the raw actions, and repair after a disaster.

Every accepted action is folded into its hour and its minute whatever its
arrival order (streams.pipeline), so after any delivery the aggregates equal
what the raw actions give: ``reconcile`` reports no difference, for usage
(per customer) and for capacity (per action type and minute, every field).
Differences mean either an erasure of a login (its raw actions are gone,
the customer's billing stays, by design) or a disaster (a store that lost
or doubled a fold, restored backups).

``--repair`` decides by content, window by window: it recomputes each
window from the raw actions and compares every field with the stored sums.
A differing window is rewritten, unless some of its indexed action ids have
no raw row any more (an erased login): the raw rows cannot say what such a
window held, so it is reported and left alone (for capacity: the minute).
Usage is corrected by adding the difference to ``usage_sums`` (so folds
that follow build on it); capacity minutes get their state rebuilt from the
raw actions.

Blocking. Repair must not run while workers fold into the same months (stop
them first): a fold between its reads and its writes would be lost or doubled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sinks.store import PROBE, Store
from spur.billing import month_bounds
from streams.capacity import CapacityKey, refresh_capacity

USAGE_FIELDS = ("bytes_in", "bytes_out", "actions", "error_actions", "duration_ms")
CAPACITY_FIELDS = (
    "actions", "error_actions", "bytes_in", "bytes_out",
    "duration_p50_ms", "duration_p95_ms", "duration_p99_ms",
)  # fmt: skip


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


@dataclass(frozen=True)
class CapacityDifference:
    action: str
    minute: dt.datetime
    aggregated: tuple[float, ...]  # CAPACITY_FIELDS
    raw: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "minute": self.minute.isoformat(),
            "aggregated": dict(zip(CAPACITY_FIELDS, self.aggregated, strict=True)),
            "raw": dict(zip(CAPACITY_FIELDS, self.raw, strict=True)),
        }


def _range(start: dt.datetime, end: dt.datetime, column: str, precision: int = 3) -> str:
    a, b = int(start.timestamp()), int(end.timestamp())
    if precision:
        return f"{column} >= toDateTime64({a}, 3, 'UTC') AND {column} < toDateTime64({b}, 3, 'UTC')"
    return f"{column} >= toDateTime({a}, 'UTC') AND {column} < toDateTime({b}, 'UTC')"


def _raw_windows(store: Store, start: dt.datetime, end: dt.datetime) -> dict[tuple[int, int], Any]:
    rows = store.query(f"""
        SELECT customer_id, toUnixTimestamp(toStartOfHour(started_at)) AS hour,
               sum(toInt128(bytes_in)) AS bytes_in, sum(toInt128(bytes_out)) AS bytes_out,
               count() AS actions, countIf(status = 'error') AS error_actions,
               sum(greatest(0, dateDiff('millisecond', started_at, ended_at))) AS duration_ms
        FROM {store.database}.actions FINAL
        WHERE {_range(start, end, "started_at")}
        GROUP BY customer_id, hour""")
    return {(int(r["customer_id"]), int(r["hour"])): r for r in rows}


def _published_windows(
    store: Store, start: dt.datetime, end: dt.datetime
) -> dict[tuple[int, int], Any]:
    rows = store.query(f"""
        SELECT customer_id, toUnixTimestamp(hour) AS hour, bytes_in, bytes_out, actions,
               error_actions, duration_ms, version
        FROM {store.database}.usage_hourly FINAL
        WHERE {_range(start, end, "hour", 0)}""")
    return {(int(r["customer_id"]), int(r["hour"])): r for r in rows}


def _summed_windows(
    store: Store, start: dt.datetime, end: dt.datetime
) -> dict[tuple[int, int], Any]:
    rows = store.query(f"""
        SELECT customer_id, toUnixTimestamp(hour) AS hour, sum(bytes_in) AS bytes_in,
               sum(bytes_out) AS bytes_out, sum(actions) AS actions,
               sum(error_actions) AS error_actions, sum(duration_ms) AS duration_ms,
               sum(updates) AS updates
        FROM {store.database}.usage_sums
        WHERE {_range(start, end, "hour", 0)}
        GROUP BY customer_id, hour""")
    return {(int(r["customer_id"]), int(r["hour"])): r for r in rows}


def _ids_without_rows(
    store: Store, start: dt.datetime, end: dt.datetime, unit: str = "Hour"
) -> dict[tuple[int, int], int]:
    """Per (customer, hour or minute): indexed ids whose raw row is gone (erased)."""
    rows = store.query(f"""
        SELECT customer_id, toUnixTimestamp(toStartOf{unit}(started_at)) AS hour, count() AS n
        FROM (SELECT DISTINCT action_id, customer_id, started_at
              FROM {store.database}.action_ids WHERE {_range(start, end, "started_at")})
        WHERE action_id NOT IN (
            SELECT action_id FROM {store.database}.actions
            WHERE {_range(start, end, "started_at")})
        GROUP BY customer_id, hour""")
    return {(int(r["customer_id"]), int(r["hour"])): int(r["n"]) for r in rows}


def _totals(windows: dict[tuple[int, int], Any]) -> dict[int, tuple[int, int, int]]:
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
    """Customers whose billed month (usage_hourly) differs from their raw actions."""
    start, end = month_bounds(month, timezone)
    aggregated = _totals(_published_windows(store, start, end))
    raw = _totals(_raw_windows(store, start, end))
    return [
        Difference(customer, aggregated.get(customer, (0, 0, 0)), raw.get(customer, (0, 0, 0)))
        for customer in sorted(set(aggregated) | set(raw))
        if aggregated.get(customer, (0, 0, 0)) != raw.get(customer, (0, 0, 0))
    ]


def _capacity_values(row: dict[str, Any]) -> tuple[float, ...]:
    return (
        int(row["actions"]), int(row["error_actions"]), int(row["bytes_in"]),
        int(row["bytes_out"]), *(float(q) for q in row["q"]),
    )  # fmt: skip


def reconcile_capacity(store: Store, month: str, timezone: str = "UTC") -> list[CapacityDifference]:
    """Capacity minutes of the month whose stored window differs from the raw actions."""
    start, end = month_bounds(month, timezone)
    stored = {
        (r["action"], int(r["minute"])): _capacity_values(r)
        for r in store.query(f"""
            SELECT action, toUnixTimestamp(minute) AS minute, actions, error_actions,
                   bytes_in, bytes_out, [duration_p50_ms, duration_p95_ms, duration_p99_ms] AS q
            FROM {store.database}.capacity_minutely FINAL
            WHERE {_range(start, end, "minute", 0)}""")
    }
    raw = {
        (r["action"], int(r["minute"])): _capacity_values(r)
        for r in store.query(f"""
            SELECT action, toUnixTimestamp(toStartOfMinute(started_at)) AS minute,
                   count() AS actions, countIf(status = 'error') AS error_actions,
                   sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out,
                   quantilesExact(0.5, 0.95, 0.99)(
                       toFloat64(dateDiff('millisecond', started_at, ended_at))) AS q
            FROM {store.database}.actions FINAL
            WHERE {_range(start, end, "started_at")}
            GROUP BY action, minute""")
    }
    missing = (0, 0, 0, 0, 0.0, 0.0, 0.0)
    return [
        CapacityDifference(
            key[0],
            dt.datetime.fromtimestamp(key[1], dt.UTC),
            stored.get(key, missing),
            raw.get(key, missing),
        )
        for key in sorted(set(stored) | set(raw))
        if stored.get(key, missing) != raw.get(key, missing)
    ]


def repair(store: Store, month: str, timezone: str = "UTC") -> int:
    """Rewrite, by content, every window of the month that differs from raw; return how many."""
    start, end = month_bounds(month, timezone)
    raw = _raw_windows(store, start, end)
    summed = _summed_windows(store, start, end)
    erased = _ids_without_rows(store, start, end)
    stale = sorted(
        key
        for key in set(raw) | set(summed)
        if key not in erased
        and any(
            int(raw.get(key, {}).get(f, 0)) != int(summed.get(key, {}).get(f, 0))
            for f in USAGE_FIELDS
        )
    )
    if stale:
        # One correction row per window: the sums become exactly the raw values,
        # and their update count passes the published version (sums that lost
        # rows count fewer updates than were published, and a lower version
        # would lose to the stale state in usage_hourly).
        published = _published_windows(store, start, end)

        def updates(key: tuple[int, int]) -> int:
            counted = int(summed.get(key, {}).get("updates", 0))
            shown = int(published[key]["version"]) if key in published else -1
            return max(1, shown - counted + 1)

        store.insert(
            "usage_sums",
            {
                "customer_id": [key[0] for key in stale],
                "hour": [dt.datetime.fromtimestamp(key[1], dt.UTC) for key in stale],
                **{
                    f: [
                        int(raw.get(k, {}).get(f, 0)) - int(summed.get(k, {}).get(f, 0))
                        for k in stale
                    ]
                    for f in USAGE_FIELDS
                },
                "updates": [updates(key) for key in stale],
            },
            dedup_token=f"repair:{dt.datetime.now(dt.UTC).isoformat()}",
        )
    # Published states from the sums, for every window whose published state lags them.
    _republish(store, start, end)
    return len(stale) + _repair_capacity(store, month, timezone)


def _republish(store: Store, start: dt.datetime, end: dt.datetime) -> None:
    summed = _summed_windows(store, start, end)
    published = _published_windows(store, start, end)
    behind = sorted(
        key
        for key, row in summed.items()
        if key not in published or any(int(row[f]) != int(published[key][f]) for f in USAGE_FIELDS)
    )
    if behind:
        store.insert(
            "usage_hourly",
            {
                "customer_id": [key[0] for key in behind],
                "hour": [dt.datetime.fromtimestamp(key[1], dt.UTC) for key in behind],
                **{f: [int(summed[key][f]) for key in behind] for f in USAGE_FIELDS},
                "version": [int(summed[key]["updates"]) for key in behind],
                "updated_at": [dt.datetime.now(dt.UTC) for _ in behind],
            },
        )


def _repair_capacity(store: Store, month: str, timezone: str) -> int:
    start, end = month_bounds(month, timezone)
    # The ids index has no action type: a minute with any erased action is left alone.
    erased = {minute for _customer, minute in _ids_without_rows(store, start, end, "Minute")}
    differing = [
        d
        for d in reconcile_capacity(store, month, timezone)
        if int(d.minute.timestamp()) not in erased
    ]
    if not differing:
        return 0
    keys = [CapacityKey(d.action, d.minute) for d in differing]
    probe = [f"{int(k.minute.timestamp())}|{k.action}" for k in keys]
    condition = (
        "(minute, action) IN (SELECT toDateTime(toUInt32(splitByChar('|', key)[1]), 'UTC'), "
        f"splitByChar('|', key)[2] FROM {PROBE})"
    )
    (previous,) = store.query(
        f"SELECT toUInt64(max(updates)) AS n FROM {store.database}.capacity_states "
        f"WHERE {condition}",
        probe,
    )
    updates = int(previous["n"]) + 1  # above every version published for these minutes
    wanted = ", ".join(f"'{key}'" for key in probe)  # digits, '|' and [a-z0-9_.:-] only
    store.execute(
        f"DELETE FROM {store.database}.capacity_states WHERE (minute, action) IN ("
        f"SELECT toDateTime(toUInt32(splitByChar('|', key)[1]), 'UTC'), "
        f"splitByChar('|', key)[2] FROM (SELECT arrayJoin([{wanted}]) AS key)) "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    store.execute(f"""
        INSERT INTO {store.database}.capacity_states
        SELECT toStartOfMinute(toDateTime(started_at, 'UTC')) AS minute, action,
               count(), countIf(status = 'error'), sum(bytes_in), sum(bytes_out),
               quantilesExactState(0.5, 0.95, 0.99)(
                   toFloat64(dateDiff('millisecond', started_at, ended_at))),
               toUInt64({updates})
        FROM {store.database}.actions FINAL
        WHERE {_range(start, end, "started_at")}
          AND (toUnixTimestamp(minute), action) IN (
              SELECT toUInt32(splitByChar('|', key)[1]), splitByChar('|', key)[2]
              FROM (SELECT arrayJoin([{wanted}]) AS key))
        GROUP BY minute, action""")
    refresh_capacity(store, keys)
    return len(keys)
