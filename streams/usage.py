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
from collections.abc import Mapping, Sequence
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


class _Truncation(dict[int, dt.datetime]):
    """Whole units (hours, minutes) since the epoch -> their UTC datetime.

    A batch has few distinct hours and minutes but one lookup per action:
    cached, a lookup costs an integer division instead of a datetime's
    construction.
    """

    def __init__(self, unit_seconds: int) -> None:
        super().__init__()
        self._unit = unit_seconds

    def of(self, instant: dt.datetime) -> dt.datetime:
        number = int(instant.timestamp()) // self._unit
        found = self.get(number)
        if found is None:
            if len(self) > 100_000:
                self.clear()
            found = self[number] = dt.datetime.fromtimestamp(number * self._unit, dt.UTC)
        return found


hour_of = _Truncation(3600).of
minute_of = _Truncation(60).of


def window_of(item: Located[Action]) -> WindowKey:
    return WindowKey(item.event.customer_id, hour_of(item.event.started_at))


def duration_ms(item: Located[Action]) -> int:
    return (item.event.ended_at - item.event.started_at) // dt.timedelta(milliseconds=1)


def fold_usage(
    states: Mapping[WindowKey, UsageState],
    items: Sequence[Located[Action]],
    windows: Sequence[WindowKey] | None = None,
) -> dict[WindowKey, UsageState]:
    """The windows ``items`` change, with their new states (one per window).

    ``states`` holds the current state of (at least) every window the items
    touch; a missing window starts empty. Items at or below a window's
    version are replays and are skipped. ``windows``: each item's window, if
    the caller computed them already (to load ``states``).
    """
    keys = windows if windows is not None else [window_of(item) for item in items]
    # Mutable running totals per window: [in, out, actions, errors, ms, version].
    running: dict[WindowKey, list[int]] = {}
    for key, item in sorted(zip(keys, items, strict=True), key=lambda pair: pair[1].offset):
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
