"""Billing: bytes and actions per customer for one month in a time zone.

A billing month is [first instant of the month, first instant of the next)
in the billing time zone, computed with zoneinfo so that DST changes (e.g.
Europe/Berlin) move the UTC boundaries correctly. An action belongs to the
month of its ``started_at`` (DESIGN §4).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sinks.store import Store

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
    """Usage per customer for the month, from the hourly aggregates.

    Exact for any time zone whose offsets are whole hours (UTC, Europe/Berlin
    and its DST changes); the month's bounds fall on hour boundaries there.
    """
    start, end = month_bounds(month, timezone)
    only = f"AND customer_id = {int(customer_id)}" if customer_id is not None else ""
    rows = store.query(
        f"""
        SELECT customer_id,
               sum(toUInt128(bytes_in)) AS bytes_in,
               sum(toUInt128(bytes_out)) AS bytes_out,
               sum(actions) AS actions
        FROM {store.database}.usage_hourly FINAL
        WHERE hour >= toDateTime({int(start.timestamp())}, 'UTC')
          AND hour < toDateTime({int(end.timestamp())}, 'UTC')
          {only}
        GROUP BY customer_id
        ORDER BY customer_id
        """
    )
    return [
        CustomerUsage(
            customer_id=int(row["customer_id"]),
            bytes_in=int(row["bytes_in"]),
            bytes_out=int(row["bytes_out"]),
            actions=int(row["actions"]),
        )
        for row in rows
    ]
