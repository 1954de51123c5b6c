"""What of a month ``spur reconcile`` compares: what no retention TTL may have touched.

The TTLs delete each table's rows on their own schedule: a usage hour goes
when the hour is its TTL's days old, its raw rows as each is (up to an hour
later); capacity minutes are kept longer than raw rows by default; and TTL
merges run when they can. At the retention's edge one table may already
miss rows another still holds, which is the retention working, not a lost
fold: reconcile leaves out every hour (and minute) a TTL may be deleting,
by the TTLs the store's tables have (compiled in at its first migration,
whatever the settings say now) and on the store's clock, with a margin for
the run itself.

Usage windows are whole UTC hours, so in a zone whose month does not begin
on a whole hour (Asia/Kolkata, Asia/Kathmandu) the usage check covers the
hours that hold the zone's month, up to 45 minutes more on each side: cut at
the zone's bound, the raw side of a window would hold part of an hour and a
repair would overwrite a correct window with that part.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from spur.operations.periods import floor_hour, month_bounds
from spur_sinks import retention as retention_sql
from spur_sinks.store import Store

# Hours and minutes whose TTL comes within this long of the store's clock are
# left out too: a reconcile (a repair's rounds included) runs for less.
TTL_MARGIN = dt.timedelta(minutes=15)

Span = tuple[dt.datetime, dt.datetime]
_HOUR, _MINUTE = dt.timedelta(hours=1), dt.timedelta(minutes=1)


@dataclass(frozen=True)
class ComparedSpan:
    """What of a month reconcile compares, as UTC [from, to) instants; from == to:
    nothing (the month is past retention). Later than the month's start where
    a TTL may already be deleting rows."""

    month: str
    timezone: str
    usage: Span  # whole UTC hours
    capacity: Span  # whole minutes
    # The TTL days the spans were cut by (None: no TTL on those tables).
    usage_days: int | None
    capacity_days: int | None
    # A window folded into within this long is a batch in flight, left out
    # (SPUR_RECONCILE_SETTLE_SECONDS; spur.operations.reconcile.in_flight).
    settle_seconds: int = 0

    @property
    def clipped(self) -> bool:
        """Whether a TTL's reach cut either span from the month."""
        return self.usage != hours_of_month(self.month, self.timezone) or self.capacity != (
            month_bounds(self.month, self.timezone)
        )

    @property
    def empty(self) -> bool:
        """Nothing of the month is left to compare."""
        return self.usage[0] == self.usage[1] and self.capacity[0] == self.capacity[1]

    def as_dict(self) -> dict[str, Any]:
        return {
            name: {"from": span[0].isoformat(), "to": span[1].isoformat(), "ttl_days": days}
            for name, span, days in (
                ("usage", self.usage, self.usage_days),
                ("capacity", self.capacity, self.capacity_days),
            )
        }


def hours_of_month(month: str, timezone: str) -> Span:
    """The whole UTC hours that hold ``month`` in ``timezone`` (see the module docstring)."""
    start, end = month_bounds(month, timezone)
    first = start.replace(minute=0, second=0, microsecond=0)
    after = end.replace(minute=0, second=0, microsecond=0)
    return first, after if after == end else after + dt.timedelta(hours=1)


def compared_span(
    month: str,
    timezone: str,
    now: dt.datetime,
    usage_days: int | None,
    capacity_days: int | None,
) -> ComparedSpan:
    """The month's hours and minutes that every table involved still keeps whole
    at ``now`` (the store's clock). ``usage_days``: the shortest TTL of the
    tables the usage comparison reads (its hours, whose TTL runs from the hour's
    start; raw rows and ids, from their own start, no earlier); ``capacity_days``:
    the same for capacity's (minutes, raw rows and ids)."""
    horizon = now + TTL_MARGIN
    hours = hours_of_month(month, timezone)
    minutes = month_bounds(month, timezone)
    usage, capacity = hours, minutes
    if usage_days is not None:
        # An hour H may be deleted once H + days <= now: the first one kept is after that.
        usage = _clip(hours, floor_hour(horizon - dt.timedelta(days=usage_days)) + _HOUR)
    if capacity_days is not None:
        reach = horizon - dt.timedelta(days=capacity_days)
        capacity = _clip(minutes, reach.replace(second=0, microsecond=0) + _MINUTE)
    return ComparedSpan(month, timezone, usage, capacity, usage_days, capacity_days)


def _clip(span: Span, kept_from: dt.datetime) -> Span:
    start, end = span
    return (min(max(start, kept_from), end), end)


def span_now(
    store: Store, month: str, timezone: str = "UTC", settle_seconds: int = 0
) -> ComparedSpan:
    """:func:`compared_span` by the store's TTLs, on its clock (the one its TTLs run
    on); windows folded into within ``settle_seconds`` are left out."""
    usage_days, capacity_days = retention_sql.kept_days(store)
    now = retention_sql.store_clock(store)
    span = compared_span(month, timezone, now, usage_days, capacity_days)
    return replace(span, settle_seconds=settle_seconds)
