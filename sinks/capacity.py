"""Capacity windows per (action type, minute) in the store: counts, bytes, quantiles.

A minute's window spans all customers and so all partitions, which no single
worker sees. Each batch's fold (spur_sinks.windows) adds its new actions to
``capacity_states``: mergeable states per (minute, action), the durations as
a ``quantilesExact`` state (all values, so the merged quantiles are exactly
those of all the minute's actions, in any order of arrival, however late).
After a batch, the windows it touched are read back by exact key, merged,
stored in ``capacity_minutely`` and published. ``version`` = inserts folded
into the minute: it only grows, so the highest version is the most complete
state (ReplacingMergeTree keeps it). No raw actions are rescanned. Holds no
customer data. Implements :class:`spur_streams.steps.windows.CapacityStore`.

Blocking: one query and one insert per run; store errors are retried.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Any

from spur_schemas.messages import CapacityMessage
from spur_sinks.store import PROBE, Store
from spur_sinks.writer import retrying
from spur_streams.usage import CapacityKey


class StoreCapacity:
    def __init__(self, store: Store, stop: threading.Event | None = None) -> None:
        self._store = store
        self._stop = stop

    def refresh(self, keys: Iterable[CapacityKey]) -> list[CapacityMessage]:
        return refresh_capacity(self._store, keys, self._stop)

    def grown_minutes(self, published: Mapping[CapacityKey, int]) -> list[CapacityKey]:
        if not published:
            return []
        # Compared in the store (no quantiles: the versions alone), so the
        # minutes that have not grown, most of them, cost no row here.
        rows: list[dict[str, Any]] = retrying(
            self._store.query,
            f"""
            SELECT counted.action AS action, counted.minute AS minute
            FROM (SELECT action, toUnixTimestamp(minute) AS minute, sum(updates) AS updates
                  FROM {self._store.database}.capacity_states
                  WHERE {_WANTED}
                  GROUP BY minute, action) AS counted
            INNER JOIN (SELECT toUInt32(splitByChar('|', key)[1]) AS minute,
                               splitByChar('|', key)[2] AS action,
                               toUInt64(splitByChar('|', key)[3]) AS published
                        FROM {PROBE}) AS given
            ON counted.minute = given.minute AND counted.action = given.action
            WHERE counted.updates > given.published
            """,
            [f"{_probe_key(key)}|{version}" for key, version in published.items()],
            stop=self._stop,
        )
        return [
            CapacityKey(row["action"], dt.datetime.fromtimestamp(int(row["minute"]), dt.UTC))
            for row in rows
        ]

    def current(self, keys: Iterable[CapacityKey]) -> list[CapacityMessage]:
        return read_capacity(self._store, keys, self._stop)


def _probe_key(key: CapacityKey) -> str:
    # Action names may contain ':' but never '|' (schemas: [a-z0-9_.:-]).
    return f"{int(key.minute.timestamp())}|{key.action}"


# The minutes asked for, as (minute, action) pairs from the probe's keys.
_WANTED = f"""(minute, action) IN (
    SELECT toDateTime(toUInt32(splitByChar('|', key)[1]), 'UTC'), splitByChar('|', key)[2]
    FROM {PROBE})"""


# Merged once per minute (the same aggregate, computed once), read as three
# numbers: an Array column costs the driver Python per value (measured 61 -> 42 ms
# for 35,000 minutes).
_QUANTILES = "quantilesExactMerge(0.5, 0.95, 0.99)(durations)"


def refresh_capacity(
    store: Store, keys: Iterable[CapacityKey], stop: threading.Event | None = None
) -> list[CapacityMessage]:
    """Store and return the current windows of ``keys``, merged from their states."""
    windows = read_capacity(store, keys, stop)
    if windows:
        retrying(store.insert, "capacity_minutely", capacity_columns(windows), stop=stop)
    return windows


def read_capacity(
    store: Store, keys: Iterable[CapacityKey], stop: threading.Event | None = None
) -> list[CapacityMessage]:
    """The current windows of ``keys``, merged from their states."""
    wanted = sorted({_probe_key(key) for key in keys})
    if not wanted:
        return []
    rows: list[dict[str, Any]] = retrying(
        store.query,
        f"""
        SELECT action, toUnixTimestamp(minute) AS minute,
               sum(actions) AS actions, sum(error_actions) AS error_actions,
               sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out,
               {_QUANTILES}[1] AS p50, {_QUANTILES}[2] AS p95, {_QUANTILES}[3] AS p99,
               sum(updates) AS updates
        FROM {store.database}.capacity_states
        WHERE {_WANTED}
        GROUP BY minute, action
        """,
        wanted,
        stop=stop,
    )
    # About one minute per action in a shuffled backfill: each minute's datetime
    # made once, the messages built positionally (the driver reads integers and
    # floats as such).
    minutes: dict[int, dt.datetime] = {}
    windows = []
    for row in rows:
        epoch = row["minute"]
        minute = minutes.get(epoch)
        if minute is None:
            minute = minutes[epoch] = dt.datetime.fromtimestamp(epoch, dt.UTC)
        window = CapacityMessage(
            row["action"], minute, row["actions"], row["error_actions"], row["bytes_in"],
            row["bytes_out"], row["p50"], row["p95"], row["p99"], row["updates"],
        )  # fmt: skip
        windows.append(window)
    return windows


def capacity_columns(windows: list[CapacityMessage]) -> dict[str, list[Any]]:
    return {
        name: list(map(attrgetter(name), windows)) for name in CapacityMessage.__struct_fields__
    }
