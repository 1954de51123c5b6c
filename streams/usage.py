"""Per-customer hourly usage windows: a pure, replay-safe fold.

A window is (customer, hour of ``started_at``); all of a customer's actions
are in one Kafka partition (the key is the customer id), so a window is fed
by one partition only. Its state carries ``version`` = the highest source
offset folded into it: folding a message at or below that offset again (a
replay after a crash) changes nothing. That is what makes the totals exact
under at-least-once delivery, at no cost per event. Upstream duplicates (the
same action id at another offset) are removed before the fold (streams.dedup).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from schemas.events import Action
from schemas.located import Located

HOUR = dt.timedelta(hours=1)


class WindowKey(NamedTuple):
    # A tuple, not a dataclass: built once per action per batch, and a frozen
    # dataclass's __init__ costs several times a tuple's.
    customer_id: int
    hour: dt.datetime  # UTC, on the hour


@dataclass(frozen=True, slots=True)
class UsageState:
    bytes_in: int = 0
    bytes_out: int = 0
    actions: int = 0
    error_actions: int = 0
    duration_ms: int = 0
    version: int = -1  # highest source offset folded in; -1 = none yet


def hour_of(instant: dt.datetime) -> dt.datetime:
    return _HOURS.at(int(instant.timestamp()) // 3600)


class _HourCache(dict[int, dt.datetime]):
    """Hour number since the epoch -> its UTC datetime (few distinct values per batch)."""

    def at(self, hour_number: int) -> dt.datetime:
        found = self.get(hour_number)
        if found is None:
            if len(self) > 100_000:
                self.clear()
            found = self[hour_number] = dt.datetime.fromtimestamp(hour_number * 3600, dt.UTC)
        return found


_HOURS = _HourCache()


def window_of(item: Located[Action]) -> WindowKey:
    return WindowKey(item.event.customer_id, hour_of(item.event.started_at))


def duration_ms(item: Located[Action]) -> int:
    return (item.event.ended_at - item.event.started_at) // dt.timedelta(milliseconds=1)


def fold_usage(
    states: Mapping[WindowKey, UsageState], items: Iterable[Located[Action]]
) -> dict[WindowKey, UsageState]:
    """The windows ``items`` change, with their new states (one per window).

    ``states`` holds the current state of (at least) every window the items
    touch; a missing window starts empty. Items at or below a window's
    version are replays and are skipped.
    """
    # Mutable running totals per window: [in, out, actions, errors, ms, version].
    running: dict[WindowKey, list[int]] = {}
    for item in sorted(items, key=lambda i: i.offset):
        key = window_of(item)
        totals = running.get(key)
        if totals is None:
            old = states.get(key) or UsageState()
            totals = running[key] = [
                old.bytes_in, old.bytes_out, old.actions, old.error_actions,
                old.duration_ms, old.version,
            ]  # fmt: skip
        if item.offset <= totals[5]:
            continue
        event = item.event
        totals[0] += event.bytes_in
        totals[1] += event.bytes_out
        totals[2] += 1
        totals[3] += event.status == "error"
        totals[4] += duration_ms(item)
        totals[5] = item.offset
    return {
        key: UsageState(*totals)
        for key, totals in running.items()
        if totals[5] != (states.get(key) or UsageState()).version
    }
