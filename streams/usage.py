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
from dataclasses import dataclass, replace

from schemas.events import Action
from schemas.located import Located

HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True, slots=True, order=True)
class WindowKey:
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
    return instant.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


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
    changed: dict[WindowKey, UsageState] = {}
    for item in sorted(items, key=lambda i: i.offset):
        key = window_of(item)
        state = changed.get(key) or states.get(key) or UsageState()
        if item.offset <= state.version:
            continue
        event = item.event
        changed[key] = replace(
            state,
            bytes_in=state.bytes_in + event.bytes_in,
            bytes_out=state.bytes_out + event.bytes_out,
            actions=state.actions + 1,
            error_actions=state.error_actions + (event.status == "error"),
            duration_ms=state.duration_ms + duration_ms(item),
            version=item.offset,
        )
    return changed
