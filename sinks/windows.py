"""Usage windows in the store, and the fold that feeds them.

Implements :class:`spur_streams.steps.windows.WindowStore`:

- ``fold``: ONE insert of the new actions into ``action_folds`` (a Null
  table), whose materialized views write the dedup index ``action_ids``, the
  hourly sums ``usage_sums``, the quarter-hour sums ``usage_quarters`` (billing
  months in any time zone) and the per-minute ``capacity_states`` from that
  same block, with a deterministic insert deduplication token;
- ``states``: the sums of some hours from ``usage_sums``, by exact key, in
  one query (``version`` = inserts folded into the window);
- ``write``: those states into ``usage_hourly`` (a ReplacingMergeTree on
  ``version``).

Blocking; store errors are retried (spur_sinks.writer).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import Any

import xxhash

from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_sinks.actions import copied
from spur_sinks.json_columns import encoded
from spur_sinks.slices import EncodedColumns, joined
from spur_sinks.store import PROBE
from spur_sinks.writer import Retrying
from spur_streams.usage import UsageState, WindowKey

_FOLDED = (
    "action_id", "customer_id", "started_at", "ended_at", "action", "bytes_in", "bytes_out",
    "status",
)  # fmt: skip


class StoreWindows:
    def __init__(self, store: Retrying) -> None:
        self._store = store

    def fold_rows(self, new: Sequence[Located[Action]], hashes: Sequence[int]) -> EncodedColumns:
        return encoded(fold_columns(new, hashes))

    def fold(self, rows: Sequence[EncodedColumns]) -> None:
        columns = joined(rows)
        if columns.rows:
            ids = b"[" + b",".join(columns.pieces["action_id"]) + b"]"
            self._store.insert("action_folds", columns, fold_token(ids))

    def states(self, windows: set[WindowKey]) -> dict[WindowKey, UsageState]:
        if not windows:
            return {}
        rows = self._store.query(
            self._sums_sql(), [f"{w.customer_id}:{int(w.hour.timestamp())}" for w in windows]
        )
        return _states(rows)

    def grown_hours(self, published: Mapping[WindowKey, int]) -> dict[WindowKey, UsageState]:
        if not published:
            return {}
        # Compared in the store: after another worker's fold only a few have grown,
        # and the rest cost no row here. Keys: customer:hour:published version.
        rows = self._store.query(
            f"SELECT sums.* FROM ({self._sums_sql()}) AS sums "
            f"INNER JOIN (SELECT toUInt32(splitByChar(':', key)[1]) AS customer_id, "
            f"toUInt32(splitByChar(':', key)[2]) AS hour, "
            f"toUInt64(splitByChar(':', key)[3]) AS published FROM {PROBE}) AS given "
            f"ON sums.customer_id = given.customer_id AND sums.hour = given.hour "
            f"WHERE sums.updates > given.published",
            [f"{w.customer_id}:{int(w.hour.timestamp())}:{v}" for w, v in published.items()],
        )
        return _states(rows)

    def _sums_sql(self) -> str:
        """The summed state of each (customer, hour) the probe's keys name (customer:hour...)."""
        return (
            f"SELECT customer_id, toUnixTimestamp(hour) AS hour, sum(bytes_in) AS bytes_in, "
            f"sum(bytes_out) AS bytes_out, sum(actions) AS actions, "
            f"sum(error_actions) AS error_actions, sum(duration_ms) AS duration_ms, "
            f"sum(updates) AS updates "
            f"FROM {self._store.database}.usage_sums "
            f"WHERE (customer_id, hour) IN (SELECT toUInt32(splitByChar(':', key)[1]), "
            f"toDateTime(toUInt32(splitByChar(':', key)[2]), 'UTC') FROM {PROBE}) "
            f"GROUP BY customer_id, hour"
        )

    def write(self, states: dict[WindowKey, UsageState], now: dt.datetime) -> None:
        self._store.insert("usage_hourly", usage_columns(states, now))


def _states(rows: list[dict[str, Any]]) -> dict[WindowKey, UsageState]:
    """The states of :meth:`StoreWindows._sums_sql`'s rows (integers all, as the driver
    reads them). A shuffled backfill reads about one window per action: each
    hour's datetime is made once, and the states are built positionally."""
    hours: dict[int, dt.datetime] = {}
    states = {}
    for r in rows:
        epoch = r["hour"]
        hour = hours.get(epoch)
        if hour is None:
            hour = hours[epoch] = dt.datetime.fromtimestamp(epoch, dt.UTC)
        states[WindowKey(r["customer_id"], hour)] = UsageState(
            r["bytes_in"], r["bytes_out"], r["actions"], r["error_actions"], r["duration_ms"],
            r["updates"],
        )  # fmt: skip
    return states


def fold_columns(new: Sequence[Located[Action]], hashes: Sequence[int]) -> dict[str, list[Any]]:
    """The ``action_folds`` rows of ``new`` (values as the events hold them, as in actions)."""
    events = list(map(attrgetter("event"), new))
    return {
        **copied(events, _FOLDED),
        "content_hash": list(hashes),
        "partition": list(map(attrgetter("partition"), new)),
        "offset": list(map(attrgetter("offset"), new)),
    }


def fold_token(action_ids: bytes) -> str:
    """The fold's insert deduplication token: a function of its action ids alone
    (``action_ids``: their JSON array, as msgspec encodes a list of them).

    A retry of the same fold has the same new ids, so the same token; another
    fold has other ids (an id is folded once), so another token.
    """
    return "fold:" + xxhash.xxh3_128_hexdigest(action_ids)


def usage_columns(changed: dict[WindowKey, UsageState], now: dt.datetime) -> dict[str, list[Any]]:
    keys = sorted(changed)
    # Each state looked up once, its fields read in C (a shuffled backfill
    # rewrites thousands of hours per batch).
    states = [changed[k] for k in keys]
    return {
        "customer_id": [k.customer_id for k in keys],
        "hour": [k.hour for k in keys],
        **{name: list(map(attrgetter(name), states)) for name in UsageState.__struct_fields__},
        "updated_at": [now] * len(keys),
    }
