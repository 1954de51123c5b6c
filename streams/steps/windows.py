"""Step ``windows``: fold new actions into their windows, rewrite what the batch touched.

Input: the batch's new actions with their content hashes (from dedup), all
its accepted actions (new and duplicates), a :class:`WindowStore` and, for
the capacity minutes, a :class:`CapacityStore`.
Output: :func:`fold` adds the new actions to the dedup index, their hourly
and quarter-hour usage sums and their capacity minutes; :func:`rewrite` returns the current
state of every hour the accepted actions touch (written to the usage
windows first) as :class:`spur_schemas.messages.UsageMessage` s, and the touched
capacity minutes; :func:`refresh_capacity` stores and returns those minutes'
states (:class:`spur_schemas.messages.CapacityMessage`).
Guarantees: the index row and the action's contributions are written by
ONE statement (the fold) with a deterministic insert deduplication token,
so an action is counted once (docs/design.md#one-statement-counts-an-action).
Every touched window is rewritten, changed or not, so a replay writes and
publishes states a crash left unwritten (docs/design.md#crashes-and-replays).
``version`` = inserts folded into the window; it only grows.
Failure: blocks while the store is down, retrying inside (spur_sinks.writer);
never skips a write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_schemas.messages import CapacityMessage, UsageMessage
from spur_schemas.metrics import CAPACITY_UPDATES, REPUBLISHED, WINDOW_UPDATES, Metrics
from spur_schemas.topics import Topic
from spur_streams.steps.store_rows import Rows
from spur_streams.usage import CapacityKey, UsageState, WindowKey


class WindowStore(Protocol):
    """Usage windows (customer, hour) and the fold that feeds them (spur_sinks.windows)."""

    def fold_rows(self, new: Sequence[Located[Action]], hashes: Sequence[int]) -> Rows:
        """The fold's rows of ``new`` (pure, no store call); ``hashes``: their content hashes."""

    def fold(self, rows: Sequence[Rows]) -> None:
        """Index the actions of ``rows`` (built by :meth:`fold_rows`; id -> hash) and add
        them to their hours and minutes, atomically: one statement."""

    def states(self, windows: set[WindowKey]) -> dict[WindowKey, UsageState]:
        """The current states of ``windows`` (those with any action folded)."""

    def write(self, states: dict[WindowKey, UsageState], now: dt.datetime) -> None:
        """Store ``states`` as the windows' newest versions."""

    def grown_hours(self, published: Mapping[WindowKey, int]) -> dict[WindowKey, UsageState]:
        """The current states of the windows of ``published`` whose version is now
        higher than the one given (the store compares: most have not grown)."""


class CapacityStore(Protocol):
    """Capacity minutes (action, minute), fed by the fold (spur_sinks.capacity)."""

    def refresh(self, keys: Iterable[CapacityKey]) -> list[CapacityMessage]:
        """Store and return the current states of ``keys``' minutes."""

    def grown_minutes(self, published: Mapping[CapacityKey, int]) -> list[CapacityKey]:
        """The minutes of ``published`` whose version is now higher than the one
        given (a cheap read, compared in the store: no quantiles)."""

    def current(self, keys: Iterable[CapacityKey]) -> list[CapacityMessage]:
        """The current states of ``keys``' minutes, read only."""


def fold(windows: WindowStore, rows: Sequence[Rows]) -> None:
    """``rows``: the batch's new actions as ``windows.fold_rows`` built them, a slice each."""
    windows.fold(rows)


def rewrite(
    windows: WindowStore, hours: set[WindowKey], now: dt.datetime, metrics: Metrics
) -> list[UsageMessage]:
    """Rewrite every hour of ``hours`` (those a batch's accepted actions touch,
    spur_streams.usage.touched); their states."""
    states = windows.states(hours)
    windows.write(states, now)
    metrics.inc(WINDOW_UPDATES, len(states))
    return [_usage_message(key, states[key]) for key in sorted(states)]


def refresh_capacity(
    capacity: CapacityStore, keys: Iterable[CapacityKey], metrics: Metrics
) -> list[CapacityMessage]:
    minutes = capacity.refresh(keys)
    metrics.inc(CAPACITY_UPDATES, len(minutes))
    return minutes


def newer_states(
    windows: WindowStore,
    capacity: CapacityStore,
    usage: Sequence[UsageMessage],
    minutes: Sequence[CapacityMessage],
    metrics: Metrics,
) -> tuple[list[UsageMessage], list[CapacityMessage]]:
    """The states of the published windows that have grown since they were read.

    Several workers fold into one window (an hour or a minute holds actions
    of every partition); each publishes the state it read after its fold, and
    the broker may append an older one last. Read after the publication was
    acknowledged, a window is at least as new as every state appended before.
    """
    states = windows.grown_hours({WindowKey(u.customer_id, u.hour): u.version for u in usage})
    newer_usage = [_usage_message(key, states[key]) for key in sorted(states)]
    grown = capacity.grown_minutes({CapacityKey(m.action, m.minute): m.version for m in minutes})
    newer_capacity = capacity.current(grown) if grown else []
    metrics.inc(REPUBLISHED, len(newer_usage), topic=Topic.USAGE)
    metrics.inc(REPUBLISHED, len(newer_capacity), topic=Topic.CAPACITY)
    return newer_usage, newer_capacity


def _usage_message(key: WindowKey, state: UsageState) -> UsageMessage:
    # Positional: a shuffled backfill makes about one per action.
    return UsageMessage(
        key.customer_id, key.hour, state.bytes_in, state.bytes_out, state.actions,
        state.error_actions, state.duration_ms, state.version,
    )  # fmt: skip
