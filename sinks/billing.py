"""Billing's reads and writes in the store: usage sums, closed periods.

Rows come back as :class:`CustomerUsage` and :class:`Closing`; what a month
is (its bounds in a time zone) and what a period shows are spur's read
models (spur.operations.billing), which call these.

Blocking: every function runs one statement on the store. Raises
:class:`spur_sinks.store.StoreError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spur_sinks.store import Columns, Store, sql_string

# The customer_id of the row that marks a period closed (customer ids start at 1).
PERIOD_MARK = 0


@dataclass(frozen=True)
class CustomerUsage:
    customer_id: int
    bytes_in: int
    bytes_out: int
    actions: int

    @property
    def bytes_total(self) -> int:
        return self.bytes_in + self.bytes_out

    def as_dict(self) -> dict[str, int]:
        return {
            "customer_id": self.customer_id,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "bytes_total": self.bytes_total,
            "actions": self.actions,
        }


@dataclass(frozen=True)
class Closing:
    """When and by whom a period was closed; ``close_id`` tells racing closes apart."""

    close_id: str
    at: dt.datetime
    by: str

    def as_dict(self) -> dict[str, str]:
        return {"at": self.at.isoformat(timespec="milliseconds"), "by": self.by}


def _sql_time(instant: dt.datetime) -> str:
    return f"toDateTime({int(instant.timestamp())}, 'UTC')"


def _only(customer_id: int | None) -> str:
    return f"AND customer_id = {int(customer_id)}" if customer_id is not None else ""


def usage(
    store: Store,
    hours: tuple[dt.datetime, dt.datetime],
    quarters: Sequence[tuple[dt.datetime, dt.datetime]],
    customer_id: int | None = None,
) -> list[CustomerUsage]:
    """Usage per customer of the whole UTC ``hours`` [from, to) (hourly aggregates)
    plus the ``quarters`` ranges (quarter-hour sums), customers without actions left out."""
    in_quarters = " OR ".join(
        f"(quarter >= {_sql_time(a)} AND quarter < {_sql_time(b)})" for a, b in quarters
    )
    rows = store.query(
        f"""
        SELECT customer_id,
               sum(bytes_in) AS bytes_in,
               sum(bytes_out) AS bytes_out,
               sum(actions) AS actions
        FROM (
            -- One type per column in both parts (sums may pass 2^64).
            SELECT customer_id, toInt128(bytes_in) AS bytes_in,
                   toInt128(bytes_out) AS bytes_out, toInt64(actions) AS actions
            FROM {store.database}.usage_hourly FINAL
            WHERE hour >= {_sql_time(hours[0])} AND hour < {_sql_time(hours[1])}
              {_only(customer_id)}
            UNION ALL
            SELECT customer_id, toInt128(bytes_in), toInt128(bytes_out), toInt64(actions)
            FROM {store.database}.usage_quarters
            WHERE ({in_quarters or "0"}) {_only(customer_id)}
        )
        GROUP BY customer_id
        HAVING actions != 0
        ORDER BY customer_id
        """
    )
    return _usage_of(rows)


def _usage_of(rows: Sequence[Mapping[str, Any]]) -> list[CustomerUsage]:
    return [
        CustomerUsage(
            customer_id=int(row["customer_id"]),
            bytes_in=int(row["bytes_in"]),
            bytes_out=int(row["bytes_out"]),
            actions=int(row["actions"]),
        )
        for row in rows
    ]


def first_closing(store: Store, month: str, timezone: Sequence[str]) -> Closing | None:
    """The close that counts for the period (the earliest recorded), or None if open.
    ``timezone``: the zone's names (spur.operations.periods.same_zone), one period."""
    rows = store.query(
        f"""
        SELECT toString(close_id) AS close_id,
               toUnixTimestamp64Milli(closed_at) AS closed_at_ms,
               closed_by
        FROM {store.database}.billing_periods
        WHERE month = {sql_string(month)} AND timezone IN ({_names(timezone)})
          AND customer_id = {PERIOD_MARK}
        ORDER BY closed_at, close_id
        LIMIT 1
        """
    )
    if not rows:
        return None
    row = rows[0]
    at = dt.datetime.fromtimestamp(int(row["closed_at_ms"]) / 1000, dt.UTC)
    return Closing(close_id=str(row["close_id"]), at=at, by=str(row["closed_by"]))


def closed_totals(
    store: Store,
    closing: Closing,
    month: str,
    timezone: Sequence[str],
    customer_id: int | None = None,
) -> list[CustomerUsage]:
    """The totals per customer that ``closing`` recorded, by customer id (``timezone``:
    as for :func:`first_closing`)."""
    rows = store.query(
        f"""
        SELECT customer_id, bytes_in, bytes_out, actions
        FROM {store.database}.billing_periods
        WHERE month = {sql_string(month)} AND timezone IN ({_names(timezone)})
          AND close_id = toUUID({sql_string(closing.close_id)})
          AND customer_id != {PERIOD_MARK}
          {_only(customer_id)}
        ORDER BY customer_id
        """
    )
    return _usage_of(rows)


def _names(timezone: Sequence[str]) -> str:
    if isinstance(timezone, str):  # one name is no sequence of names here
        raise TypeError("a zone's names, not one name")
    return ", ".join(map(sql_string, timezone))


def record_period(
    store: Store,
    month: str,
    timezone: str,
    closing: Closing,
    totals: Sequence[CustomerUsage],
    *,
    bounds: tuple[dt.datetime, dt.datetime],
) -> None:
    """Record one close of the period [``bounds``): its mark and one row per customer
    in one insert, one block, so that they become visible together, or not at all."""
    store.insert("billing_periods", _period_columns(month, timezone, closing, totals, bounds))


def _period_columns(
    month: str,
    timezone: str,
    closing: Closing,
    totals: Sequence[CustomerUsage],
    bounds: tuple[dt.datetime, dt.datetime],
) -> Columns:
    """The rows of one close: the period's mark first, then one per customer."""
    rows = [CustomerUsage(PERIOD_MARK, 0, 0, 0), *totals]
    at = closing.at.astimezone(dt.UTC)
    return {
        "month": [month] * len(rows),
        "timezone": [timezone] * len(rows),
        "period_start": [bounds[0]] * len(rows),
        "period_end": [bounds[1]] * len(rows),
        "close_id": [closing.close_id] * len(rows),
        "closed_at": [at.replace(microsecond=at.microsecond // 1000 * 1000)] * len(rows),
        "closed_by": [closing.by] * len(rows),
        "customer_id": [u.customer_id for u in rows],
        "bytes_in": [u.bytes_in for u in rows],
        "bytes_out": [u.bytes_out for u in rows],
        "actions": [u.actions for u in rows],
    }
