"""Billing: bytes and actions per customer for one month in a time zone.

Months and their bounds: spur.operations.periods. The month's usage is exact in
every time zone in use (see :func:`billing`).

Billing periods: :func:`close_month` records a month's totals per customer
once, in the store; afterwards :func:`period` shows those closed totals and,
apart, the corrections (what the hourly aggregates gained since, from
actions of the month that arrived after closing). A period is a month *in a
time zone*: 2026-11 in UTC and in Europe/Berlin have different bounds, so
they are closed separately; the zone is compared by its IANA name.

Blocking: every function that takes a store queries it (through spur_sinks.billing).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spur.operations.periods import (
    QUARTER_SECONDS,
    BillingInputError,
    ceil_hour,
    check_closable,
    floor_hour,
    month_bounds,
    same_zone,
)
from spur_sinks import billing as stored
from spur_sinks.billing import Closing, CustomerUsage
from spur_sinks.store import Store, StoreError

__all__ = [
    "BillingInputError", "ClosedMonth", "Closing", "CustomerUsage", "Period", "billing",
    "close_month", "corrections", "month_bounds", "period",
]  # fmt: skip


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
    first_hour, last_hour = ceil_hour(start), floor_hour(end)
    if any(instant.timestamp() % QUARTER_SECONDS for instant in (start, end)):
        raise BillingInputError(
            f"--tz {timezone}: {month} does not begin and end on a quarter hour in UTC; "
            "billing is kept per quarter hour"
        )
    quarters = [(start, first_hour), (max(last_hour, first_hour), end)]
    return stored.usage(store, (first_hour, last_hour), quarters, customer_id)


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
    names = same_zone(timezone)
    closing = stored.first_closing(store, month, names)
    if closing is None:
        return Period(month, timezone, start, end, None, current, [])
    closed = stored.closed_totals(store, closing, month, names, customer_id)
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
    check_closable(month, timezone, now, retention_days)
    names = same_zone(timezone)  # a period closed under another name of the zone is closed
    closing = stored.first_closing(store, month, names)
    mine = str(uuid.uuid4())
    if closing is None:
        totals = billing(store, month, timezone)
        closing = Closing(mine, now, closed_by)
        bounds = month_bounds(month, timezone)
        stored.record_period(store, month, timezone, closing, totals, bounds=bounds)
        closing = stored.first_closing(store, month, names)
        if closing is None:
            raise StoreError(f"closing {month} ({timezone}): the store does not show the record")
    totals = stored.closed_totals(store, closing, month, names)
    return ClosedMonth(closing, closing.close_id == mine, totals)
