"""Billing: bytes and actions per customer for one month in a time zone.

A billing month is [first instant of the month, first instant of the next)
in the billing time zone, computed with zoneinfo so that DST changes (e.g.
Europe/Berlin) move the UTC boundaries correctly. An action belongs to the
month of its ``started_at`` (DESIGN §4).

Billing periods: :func:`close_month` records a month's totals per customer
once, in ``billing_periods``; afterwards :func:`period` shows those closed
totals and, apart, the corrections (what the hourly aggregates gained since,
from actions of the month that arrived after closing). A period is a month
*in a time zone*: 2026-11 in UTC and in Europe/Berlin have different bounds,
so they are closed separately; the zone is compared by its IANA name.

Blocking: every function that takes a store queries it.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sinks.store import Columns, Store, StoreError, sql_string

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class BillingInputError(ValueError):
    """A bad --month or --tz; the message says what is accepted."""


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


def month_bounds(month: str, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The month's [start, end) as UTC instants."""
    match = _MONTH.match(month)
    if not match:
        raise BillingInputError(f"--month {month!r}: expected YYYY-MM, e.g. 2026-11")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BillingInputError(
            f"--tz {timezone!r}: not an IANA time zone (e.g. UTC, Europe/Berlin)"
        ) from exc
    year, number = int(match.group(1)), int(match.group(2))
    start = dt.datetime(year, number, 1, tzinfo=zone)
    end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def billing(
    store: Store, month: str, timezone: str = "UTC", customer_id: int | None = None
) -> list[CustomerUsage]:
    """Usage per customer for the month, exact in every time zone in use.

    The month's whole UTC hours come from the hourly aggregates; where the
    zone's offset is not a whole hour (Asia/Kolkata, Asia/Kathmandu, ...),
    the month begins and ends inside an hour, and those two partial hours
    come from the quarter-hour sums (every zone's offset is a multiple of 15
    minutes). Raises :class:`BillingInputError` for a month whose bounds fall
    off the quarter hours (historical local mean times).
    """
    start, end = month_bounds(month, timezone)
    first_hour, last_hour = _ceil_hour(start), _floor_hour(end)
    if any(instant.timestamp() % QUARTER_SECONDS for instant in (start, end)):
        raise BillingInputError(
            f"--tz {timezone}: {month} does not begin and end on a quarter hour in UTC; "
            "billing is kept per quarter hour"
        )
    only = f"AND customer_id = {int(customer_id)}" if customer_id is not None else ""
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
            WHERE hour >= {_sql_time(first_hour)} AND hour < {_sql_time(last_hour)} {only}
            UNION ALL
            SELECT customer_id, toInt128(bytes_in), toInt128(bytes_out), toInt64(actions)
            FROM {store.database}.usage_quarters
            WHERE ((quarter >= {_sql_time(start)} AND quarter < {_sql_time(first_hour)})
                OR (quarter >= {_sql_time(max(last_hour, first_hour))}
                    AND quarter < {_sql_time(end)}))
              {only}
        )
        GROUP BY customer_id
        HAVING actions != 0
        ORDER BY customer_id
        """
    )
    return _usage_of(rows)


QUARTER_SECONDS = 900


def _floor_hour(instant: dt.datetime) -> dt.datetime:
    return instant.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(instant: dt.datetime) -> dt.datetime:
    floor = _floor_hour(instant)
    return floor if floor == instant else floor + dt.timedelta(hours=1)


def _sql_time(instant: dt.datetime) -> str:
    return f"toDateTime({int(instant.timestamp())}, 'UTC')"


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


# -- billing periods ------------------------------------------------------------

# The customer_id of the row that marks a period closed (customer ids start at 1).
PERIOD_MARK = 0


@dataclass(frozen=True)
class Closing:
    """When and by whom a period was closed; ``close_id`` tells racing closes apart."""

    close_id: str
    at: dt.datetime
    by: str

    def as_dict(self) -> dict[str, str]:
        return {"at": self.at.isoformat(timespec="milliseconds"), "by": self.by}


@dataclass(frozen=True)
class Period:
    """A billing month in one time zone, as ``spur billing`` shows it.

    Open (``closed`` is None): ``customers`` are the current totals and there
    are no corrections. Closed: ``customers`` are the totals recorded when it
    was closed, ``corrections`` what changed since, per customer.
    """

    month: str
    timezone: str
    start: dt.datetime
    end: dt.datetime
    closed: Closing | None
    customers: list[CustomerUsage]
    corrections: list[CustomerUsage]

    def as_dict(self) -> dict[str, Any]:
        """The ``spur billing --format json`` document (stable: tools parse it)."""
        return {
            "month": self.month,
            "timezone": self.timezone,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "closed": self.closed.as_dict() if self.closed else None,
            "customers": [u.as_dict() for u in self.customers],
            "corrections": [u.as_dict() for u in self.corrections],
        }


@dataclass(frozen=True)
class ClosedMonth:
    """What :func:`close_month` did: ``closed_now`` is False if it was closed before."""

    closing: Closing
    closed_now: bool
    totals: list[CustomerUsage]


def corrections(
    closed: Sequence[CustomerUsage], current: Sequence[CustomerUsage]
) -> list[CustomerUsage]:
    """Per customer, current minus closed totals; customers without a change left out.

    A customer billed only after closing is a correction of its whole usage.
    Values are negative only where aggregates shrank since closing (the TTL
    expiring the month's first hours before the closed record); they are
    reported, never hidden. Sorted by customer id.
    """
    before = {u.customer_id: u for u in closed}
    now = {u.customer_id: u for u in current}
    zero = CustomerUsage(0, 0, 0, 0)
    changes = []
    for customer_id in sorted(before.keys() | now.keys()):
        old, new = before.get(customer_id, zero), now.get(customer_id, zero)
        change = CustomerUsage(
            customer_id=customer_id,
            bytes_in=new.bytes_in - old.bytes_in,
            bytes_out=new.bytes_out - old.bytes_out,
            actions=new.actions - old.actions,
        )
        if (change.bytes_in, change.bytes_out, change.actions) != (0, 0, 0):
            changes.append(change)
    return changes


def period(
    store: Store, month: str, timezone: str = "UTC", customer_id: int | None = None
) -> Period:
    """The month as billed: closed totals and corrections, or current totals while open."""
    start, end = month_bounds(month, timezone)
    current = billing(store, month, timezone, customer_id)
    closing = first_closing(store, month, timezone)
    if closing is None:
        return Period(month, timezone, start, end, None, current, [])
    closed = closed_totals(store, closing, month, timezone, customer_id)
    return Period(month, timezone, start, end, closing, closed, corrections(closed, current))


def close_month(
    store: Store,
    month: str,
    timezone: str,
    *,
    closed_by: str,
    now: dt.datetime,
    retention_days: int,
) -> ClosedMonth:
    """Record the month's current totals per customer as its invoice totals, once.

    Never overwrites or deletes: a month closed before is left as it is
    (``closed_now`` False). The month must be over at ``now`` and within
    ``retention_days`` (the TTL of its windows and of the record), else
    :class:`BillingInputError`. If another close of the same period races
    this one, the first recorded wins for every reader, and both callers
    are told about that one.
    """
    _check_closable(month, timezone, now, retention_days)
    closing = first_closing(store, month, timezone)
    mine = str(uuid.uuid4())
    if closing is None:
        totals = billing(store, month, timezone)
        # One insert, one block: the totals and the mark that closes the
        # period become visible together, or not at all.
        store.insert(
            "billing_periods",
            _period_columns(month, timezone, Closing(mine, now, closed_by), totals),
        )
        closing = first_closing(store, month, timezone)
        if closing is None:
            raise StoreError(f"closing {month} ({timezone}): the store does not show the record")
    totals = closed_totals(store, closing, month, timezone)
    return ClosedMonth(closing, closing.close_id == mine, totals)


def _check_closable(month: str, timezone: str, now: dt.datetime, retention_days: int) -> None:
    start, end = month_bounds(month, timezone)
    if end > now:
        raise BillingInputError(
            f"--month {month}: not over yet in {timezone} (it ends {end.isoformat()}); "
            "close it afterwards, later actions are billed as corrections"
        )
    if start + dt.timedelta(days=retention_days) <= now:
        raise BillingInputError(
            f"--month {month}: began more than {retention_days} days ago; its actions "
            "and its record would be beyond retention"
        )


def first_closing(store: Store, month: str, timezone: str) -> Closing | None:
    """The close that counts for the period (the earliest recorded), or None if open."""
    rows = store.query(
        f"""
        SELECT toString(close_id) AS close_id,
               toUnixTimestamp64Milli(closed_at) AS closed_at_ms,
               closed_by
        FROM {store.database}.billing_periods
        WHERE month = {sql_string(month)} AND timezone = {sql_string(timezone)}
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
    timezone: str,
    customer_id: int | None = None,
) -> list[CustomerUsage]:
    """The totals per customer that ``closing`` recorded, by customer id."""
    only = f"AND customer_id = {int(customer_id)}" if customer_id is not None else ""
    rows = store.query(
        f"""
        SELECT customer_id, bytes_in, bytes_out, actions
        FROM {store.database}.billing_periods
        WHERE month = {sql_string(month)} AND timezone = {sql_string(timezone)}
          AND close_id = toUUID({sql_string(closing.close_id)})
          AND customer_id != {PERIOD_MARK}
          {only}
        ORDER BY customer_id
        """
    )
    return _usage_of(rows)


def _period_columns(
    month: str, timezone: str, closing: Closing, totals: Sequence[CustomerUsage]
) -> Columns:
    """The rows of one close: the period's mark first, then one per customer."""
    bounds = month_bounds(month, timezone)
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
