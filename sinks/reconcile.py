"""Reconciliation's reads and writes: windows recomputed from the raw actions,
the stored ones, and their repair.

What differs and what to rewrite is decided in spur.operations.reconcile; this
module only reads windows (keyed by customer and hour, or by action type
and minute, as epoch seconds) and writes the corrections it is given.

Blocking. Raises :class:`spur_sinks.store.StoreError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from spur_sinks.capacity import refresh_capacity
from spur_sinks.store import PROBE, Store
from spur_sinks.tables import UNLINKED_CUSTOMER
from spur_sinks.windows import usage_columns
from spur_streams.usage import CapacityKey, UsageState, WindowKey

USAGE_FIELDS = ("bytes_in", "bytes_out", "actions", "error_actions", "duration_ms")

Window = tuple[int, int]  # customer id, hour (epoch seconds)
Minute = tuple[str, int]  # action type, minute (epoch seconds)


def time_range(start: dt.datetime, end: dt.datetime, column: str, precision: int = 3) -> str:
    a, b = int(start.timestamp()), int(end.timestamp())
    if precision:
        return f"{column} >= toDateTime64({a}, 3, 'UTC') AND {column} < toDateTime64({b}, 3, 'UTC')"
    return f"{column} >= toDateTime({a}, 'UTC') AND {column} < toDateTime({b}, 'UTC')"


def _by_window(rows: list[dict[str, Any]]) -> dict[Window, Any]:
    return {(int(r["customer_id"]), int(r["hour"])): r for r in rows}


def raw_windows(store: Store, start: dt.datetime, end: dt.datetime) -> dict[Window, Any]:
    """Usage per (customer, hour) recomputed from the raw actions."""
    return _by_window(
        store.query(f"""
        SELECT customer_id, toUnixTimestamp(toStartOfHour(started_at)) AS hour,
               sum(toInt128(bytes_in)) AS bytes_in, sum(toInt128(bytes_out)) AS bytes_out,
               count() AS actions, countIf(status = 'error') AS error_actions,
               sum(greatest(0, dateDiff('millisecond', started_at, ended_at))) AS duration_ms
        FROM {store.database}.actions FINAL
        WHERE {time_range(start, end, "started_at")}
        GROUP BY customer_id, hour""")
    )


def hourly_window_states(store: Store, start: dt.datetime, end: dt.datetime) -> dict[Window, Any]:
    """The window states in ``usage_hourly`` (what billing reads), with their versions."""
    return _by_window(
        store.query(f"""
        SELECT customer_id, toUnixTimestamp(hour) AS hour, bytes_in, bytes_out, actions,
               error_actions, duration_ms, version
        FROM {store.database}.usage_hourly FINAL
        WHERE {time_range(start, end, "hour", 0)}""")
    )


def summed_windows(store: Store, start: dt.datetime, end: dt.datetime) -> dict[Window, Any]:
    """The folded sums per window, with how many updates they count."""
    return _by_window(
        store.query(f"""
        SELECT customer_id, toUnixTimestamp(hour) AS hour, sum(bytes_in) AS bytes_in,
               sum(bytes_out) AS bytes_out, sum(actions) AS actions,
               sum(error_actions) AS error_actions, sum(duration_ms) AS duration_ms,
               sum(updates) AS updates
        FROM {store.database}.usage_sums
        WHERE {time_range(start, end, "hour", 0)}
        GROUP BY customer_id, hour""")
    )


def quartered_windows(store: Store, start: dt.datetime, end: dt.datetime) -> dict[Window, Any]:
    """The quarter-hour sums (what billing reads in a zone whose month does not
    begin on a whole hour) per (customer, hour)."""
    return _by_window(
        store.query(f"""
        SELECT customer_id, toUnixTimestamp(toStartOfHour(quarter)) AS hour,
               sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out, sum(actions) AS actions
        FROM {store.database}.usage_quarters
        WHERE {time_range(start, end, "quarter", 0)}
        GROUP BY customer_id, hour""")
    )


def misplaced_quarters(store: Store, start: dt.datetime, end: dt.datetime) -> dict[Window, int]:
    """Per (customer, hour): its quarter hours whose sums differ from the raw actions'.

    Compared in the store (the raw quarters less the stored ones), so only
    the differing quarters come back: none in a healthy store.
    """
    rows = store.query(f"""
        SELECT customer_id, toUnixTimestamp(toStartOfHour(quarter)) AS hour, count() AS n
        FROM (
            SELECT customer_id, quarter, sum(b_in) AS in_left, sum(b_out) AS out_left,
                   sum(a) AS actions_left
            FROM (
                SELECT customer_id,
                       toStartOfFifteenMinutes(toDateTime(started_at, 'UTC')) AS quarter,
                       toInt128(bytes_in) AS b_in, toInt128(bytes_out) AS b_out, toInt64(1) AS a
                FROM {store.database}.actions FINAL
                WHERE {time_range(start, end, "started_at")}
                UNION ALL
                SELECT customer_id, quarter, -bytes_in, -bytes_out, -actions
                FROM {store.database}.usage_quarters
                WHERE {time_range(start, end, "quarter", 0)})
            GROUP BY customer_id, quarter)
        WHERE in_left != 0 OR out_left != 0 OR actions_left != 0
        GROUP BY customer_id, hour""")
    return {(int(r["customer_id"]), int(r["hour"])): int(r["n"]) for r in rows}


def ids_without_rows(
    store: Store, start: dt.datetime, end: dt.datetime, unit: str = "Hour"
) -> dict[Window, int]:
    """Per (customer, hour or minute): indexed ids whose raw row is gone (erased)."""
    rows = store.query(f"""
        SELECT customer_id, toUnixTimestamp(toStartOf{unit}(started_at)) AS hour, count() AS n
        FROM (SELECT DISTINCT action_id, customer_id, started_at
              FROM {store.database}.action_ids WHERE {time_range(start, end, "started_at")})
        WHERE action_id NOT IN (
            SELECT action_id FROM {store.database}.actions
            WHERE {time_range(start, end, "started_at")})
        GROUP BY customer_id, hour""")
    return {(int(r["customer_id"]), int(r["hour"])): int(r["n"]) for r in rows}


def erasure_reach(store: Store) -> tuple[frozenset[int], bool]:
    """The customers an erasure recorded in the store removed, and whether any
    login's was: whose raw rows an erasure may have deleted (a login's
    tombstone names no customer). Tombstones last as long as the actions."""
    rows = store.query(
        f"SELECT toString(subject_kind) AS kind, customer_id "
        f"FROM {store.database}.erased_subjects GROUP BY kind, customer_id"
    )
    customers = frozenset(int(r["customer_id"]) for r in rows if r["kind"] == "customer")
    # A customer's erasure keeps its action ids unlinked, as customer 0
    # (spur_sinks.tables: action_ids' unlinked_by).
    unlinked = frozenset({UNLINKED_CUSTOMER}) if customers else frozenset()
    return customers | unlinked, any(r["kind"] == "login" for r in rows)


def recent_windows(
    store: Store, start: dt.datetime, end: dt.datetime, seconds: int, unit: str = "Hour"
) -> set[Window]:
    """(customer, hour or minute) windows an action was folded into within the last
    ``seconds`` (the ids' ``seen_at``, set by the store when the fold indexed them);
    none for 0."""
    if seconds <= 0:
        return set()
    rows = store.query(f"""
        SELECT DISTINCT customer_id, toUnixTimestamp(toStartOf{unit}(started_at)) AS hour
        FROM {store.database}.action_ids
        WHERE {time_range(start, end, "started_at")} AND seen_at >= now() - {int(seconds)}""")
    return {(int(r["customer_id"]), int(r["hour"])) for r in rows}


def rows_not_folded(
    store: Store, start: dt.datetime, end: dt.datetime, unit: str = "Hour"
) -> dict[Window, int]:
    """Per (customer, hour or minute): raw actions whose id is not indexed.

    An id is indexed by the statement that folds its action, right after its
    raw row is stored (spur_streams.batch), and kept as long as the row: such
    a row is a fold in flight, or a batch a worker stored and did not fold (it
    stopped; the batch is folded when it is read again).
    """
    rows = store.query(f"""
        SELECT customer_id, toUnixTimestamp(toStartOf{unit}(started_at)) AS hour, count() AS n
        FROM {store.database}.actions FINAL
        WHERE {time_range(start, end, "started_at")}
          AND action_id NOT IN (
              SELECT action_id FROM {store.database}.action_ids
              WHERE {time_range(start, end, "started_at")})
        GROUP BY customer_id, hour""")
    return {(int(r["customer_id"]), int(r["hour"])): int(r["n"]) for r in rows}


def _at(epoch: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def add_to_sums(
    store: Store, changes: dict[Window, dict[str, int]], updates: dict[Window, int]
) -> None:
    """One correction row per window (USAGE_FIELDS added to its sums), one insert."""
    keys = sorted(changes)
    store.insert(
        "usage_sums",
        {
            "customer_id": [key[0] for key in keys],
            "hour": [_at(key[1]) for key in keys],
            **{f: [changes[key][f] for key in keys] for f in USAGE_FIELDS},
            "updates": [updates[key] for key in keys],
        },
        dedup_token=f"repair:{dt.datetime.now(dt.UTC).isoformat()}",
    )


def write_window_states(store: Store, states: dict[Window, Any]) -> None:
    """Write window states into ``usage_hourly`` (``updates`` as the version), in the
    layout of the worker's own writes (spur_sinks.windows.usage_columns)."""
    now = dt.datetime.now(dt.UTC)
    typed = {
        WindowKey(customer, _at(hour)): UsageState(
            **{f: int(state[f]) for f in USAGE_FIELDS}, version=int(state["updates"])
        )
        for (customer, hour), state in states.items()
    }
    store.insert("usage_hourly", usage_columns(typed, now))


def rebuild_capacity(
    store: Store, start: dt.datetime, end: dt.datetime, minutes: Sequence[Minute]
) -> None:
    """Rebuild the state of each (action, minute) from the raw actions, and write it."""
    keys = [CapacityKey(action, _at(minute)) for action, minute in minutes]
    probe = [f"{int(k.minute.timestamp())}|{k.action}" for k in keys]
    condition = (
        "(minute, action) IN (SELECT toDateTime(toUInt32(splitByChar('|', key)[1]), 'UTC'), "
        f"splitByChar('|', key)[2] FROM {PROBE})"
    )
    # Above every version these minutes were written with: the states' summed
    # updates, or a window's version in capacity_minutely where that is higher
    # (a window written before its states were lost, or never merged).
    (previous,) = store.query(
        f"""SELECT greatest(
                (SELECT toUInt64(max(n)) FROM (
                    SELECT sum(updates) AS n FROM {store.database}.capacity_states
                    WHERE {condition} GROUP BY minute, action)),
                (SELECT toUInt64(max(version)) FROM {store.database}.capacity_minutely
                 WHERE {condition})) AS n""",
        probe,
    )
    updates = int(previous["n"]) + 1
    wanted = ", ".join(f"'{key}'" for key in probe)  # digits, '|' and [a-z0-9_.:-] only
    store.execute(
        f"DELETE FROM {store.database}.capacity_states WHERE (minute, action) IN ("
        f"SELECT toDateTime(toUInt32(splitByChar('|', key)[1]), 'UTC'), "
        f"splitByChar('|', key)[2] FROM (SELECT arrayJoin([{wanted}]) AS key)) "
        "SETTINGS mutations_sync = 2, lightweight_deletes_sync = 2"
    )
    store.execute(f"""
        INSERT INTO {store.database}.capacity_states
            (minute, action, actions, error_actions, bytes_in, bytes_out, durations, updates)
        SELECT toStartOfMinute(toDateTime(started_at, 'UTC')) AS minute, action,
               count(), countIf(status = 'error'),
               sum(toUInt128(bytes_in)), sum(toUInt128(bytes_out)),
               quantilesExactState(0.5, 0.95, 0.99)(
                   toFloat64(dateDiff('millisecond', started_at, ended_at))),
               toUInt64({updates})
        FROM {store.database}.actions FINAL
        WHERE {time_range(start, end, "started_at")}
          AND (toUnixTimestamp(minute), action) IN (
              SELECT toUInt32(splitByChar('|', key)[1]), splitByChar('|', key)[2]
              FROM (SELECT arrayJoin([{wanted}]) AS key))
        GROUP BY minute, action""")
    refresh_capacity(store, keys)
