"""Window keys and states: per-customer hourly usage, per-action capacity minutes.

A window is (customer, hour of ``started_at``). Its state is not folded in
Python: the batch's one ``action_folds`` insert adds each new action to
``usage_sums`` (a SummingMergeTree, by materialized view, in the statement
that also indexes the action's id), so a window's state is whatever the
store sums to, read back by exact key. ``version`` is the number of inserts
that went into the window: it only grows, so the highest version is the
newest state (usage_hourly, spur.usage.v1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import NamedTuple

import msgspec

from spur_schemas.events import Action
from spur_schemas.located import Located


class WindowKey(NamedTuple):
    # A tuple, not a dataclass: built once per action per batch, and a frozen
    # dataclass's __init__ costs several times a tuple's.
    customer_id: int
    hour: dt.datetime  # UTC, on the hour


class CapacityKey(NamedTuple):
    """A capacity window: (action type, minute), across all customers (spur_sinks.capacity)."""

    action: str
    minute: dt.datetime  # UTC, on the minute


class UsageState(msgspec.Struct, frozen=True, gc=False):
    # A msgspec struct, not a frozen dataclass: a shuffled backfill reads one
    # per action, and a frozen dataclass's __init__ costs several times one.
    bytes_in: int
    bytes_out: int
    actions: int
    error_actions: int
    duration_ms: int
    version: int  # inserts folded into the window (usage_sums.updates)


class _Truncation(dict[int, dt.datetime]):
    """Whole units (hours, minutes) since the epoch -> their UTC datetime.

    A batch has few distinct hours and minutes but one lookup per action:
    cached, a lookup costs an integer division instead of a datetime's
    construction.
    """

    def __init__(self, unit_seconds: int) -> None:
        super().__init__()
        self._unit = unit_seconds

    def at(self, number: int) -> dt.datetime:
        """The start of unit ``number`` since the epoch."""
        found = self.get(number)
        if found is None:
            if len(self) > 100_000:
                self.clear()
            found = self[number] = dt.datetime.fromtimestamp(number * self._unit, dt.UTC)
        return found


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_HOURS = _Truncation(3600)
_MINUTES = _Truncation(60)


def touched(items: Iterable[Located[Action]]) -> tuple[set[WindowKey], set[CapacityKey]]:
    """The usage hours (customer, UTC hour of ``started_at``) and capacity minutes
    (action type, UTC minute) ``items`` fall into, in one pass over whole seconds;
    each window's time is built once, not once per action."""
    hours: set[tuple[int, int]] = set()
    minutes: set[tuple[str, int]] = set()
    for item in items:
        event = item.event
        # Whole seconds since the epoch, floored: a timedelta's days and seconds
        # (a third of datetime.timestamp()'s cost, which goes through a float).
        since = event.started_at - _EPOCH
        second = since.days * 86_400 + since.seconds
        hours.add((event.customer_id, second // 3600))
        minutes.add((event.action, second // 60))
    return (
        {WindowKey(customer_id, _HOURS.at(hour)) for customer_id, hour in hours},
        {CapacityKey(action, _MINUTES.at(minute)) for action, minute in minutes},
    )
