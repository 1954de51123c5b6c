"""Steps 2-7's Python after the reads, a slice of the batch at a time.

Input: a batch's valid actions, what the batch's reads answered
(spur_streams.steps.reads), its messages, the worker's rules and its sinks.
Output: a :class:`Decided`: steps erasure, route, dedup, lateness and privacy
decided; the new actions' raw rows and fold rows built by the sinks (stored
later, together: ``RawEventsSink.store_actions``, ``WindowStore.fold``); the
hours and minutes and the subjects the accepted actions (new and duplicates)
touch; the detours and the conflicts' dead letters, in the batch's order.
Guarantees: the same as these steps over the whole batch at once
(tests/streams/test_decide_slices.py): a slice's dedup sees every id the
slices before it found new (``seen``), rows, detours and letters keep the
batch's order, counts add up. Lateness is measured per slice, in offset
order per partition as a batch holds its messages.
Why slices: the objects of 40,000 actions (tens of MB) do not fit the CPU's
caches; these steps pass over the actions about fifteen times, and taken
:data:`SLICE` at a time only a slice's first pass misses the caches
(bench.steps: the batch's Python per action was about half at 2,000-action
batches of what it was at 40,000, 2026-12-07).
Failure: pure apart from metrics and the lateness marks; never raises.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_schemas.messages import DeadLetter
from spur_schemas.metrics import Metrics
from spur_streams.privacy import IpPolicy
from spur_streams.steps.dedup import deduplicate
from spur_streams.steps.erased_detours import sealed_hashes, without_sealed
from spur_streams.steps.erasure import (
    Subjects,
    subjects_of,
    without_erased_customers,
    without_erased_logins,
)
from spur_streams.steps.lateness import Lateness
from spur_streams.steps.positions import Positions
from spur_streams.steps.privacy import private_actions
from spur_streams.steps.reads import BatchReads
from spur_streams.steps.route import Detour, not_detoured, route_actions
from spur_streams.steps.store_rows import RawEventsSink, Rows
from spur_streams.steps.validate import Message
from spur_streams.steps.windows import WindowStore
from spur_streams.usage import CapacityKey, WindowKey, touched

SLICE = 2000


@dataclass
class Decided:
    raw_rows: list[Rows] = field(default_factory=list)  # the new actions' (sink.action_rows)
    fold_rows: list[Rows] = field(default_factory=list)  # the new actions' (windows.fold_rows)
    hours: set[WindowKey] = field(default_factory=set)
    minutes: set[CapacityKey] = field(default_factory=set)
    customers: set[int] = field(default_factory=set)
    logins: set[str] = field(default_factory=set)
    detours: list[Detour] = field(default_factory=list)
    conflicts: list[DeadLetter] = field(default_factory=list)
    # Seconds spent on later steps' work: building their rows, the touched windows.
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def subjects(self) -> Subjects:
        return Subjects(frozenset(self.customers), frozenset(self.logins))


@dataclass(frozen=True)
class DecideRules:
    """What a worker decides by: its partitions (None: no routing), IP policy, lateness."""

    partitions: int | None
    ip_policy: IpPolicy
    lateness: Lateness
    metrics: Metrics


@dataclass(frozen=True)
class RowBuilders:
    """The sinks that build the rows of the new actions (and store them later)."""

    sink: RawEventsSink
    windows: WindowStore


def decide(
    valid: Sequence[Located[Action]],
    reads: BatchReads,
    messages: Sequence[Message],
    now: dt.datetime,
    *,
    rules: DecideRules,
    builders: RowBuilders,
    slice_size: int = SLICE,
) -> Decided:
    decided = Decided()
    positions = Positions(messages)
    seen: dict[int, int] = {}  # id's 128-bit integer -> content hash, across slices
    erased, metrics = reads.erased, rules.metrics
    spent = dict.fromkeys(("store_raw", "fold", "windows_touched"), 0.0)
    for start in range(0, len(valid), slice_size):
        accepted = without_erased_customers(
            list(valid[start : start + slice_size]), erased, metrics
        )
        away: list[Located[Action]] = []  # to be decided on their id's partition
        if rules.partitions is not None:
            accepted, away, detours = route_actions(
                accepted, positions, rules.partitions, metrics, erased
            )
            decided.detours += detours
        # An erased login's detours: deduplicated by the hash of the action as sent.
        sealed = sealed_hashes(accepted, positions, erased.key)
        dedup, conflicts = deduplicate(
            accepted, reads.index, positions, now, metrics, seen=seen, known=sealed
        )
        decided.conflicts += conflicts
        # Lateness is the producer's order, so measured where a message arrived.
        rules.lateness.measure(away + not_detoured(dedup.new, positions))
        new = private_actions(dedup.new, rules.ip_policy, reads.consent, metrics)
        # The slice's rows and windows while its actions are in the caches.
        started = time.perf_counter()
        stored = without_sealed(without_erased_logins(new, erased), sealed)
        decided.raw_rows.append(builders.sink.action_rows(stored))
        built_raw = time.perf_counter()
        decided.fold_rows.append(builders.windows.fold_rows(new, dedup.hashes))
        built_fold = time.perf_counter()
        _add_touched(decided, dedup.accepted)
        spent["store_raw"] += built_raw - started
        spent["fold"] += built_fold - built_raw
        spent["windows_touched"] += time.perf_counter() - built_fold
    decided.seconds = spent
    return decided


def _add_touched(decided: Decided, accepted: list[Located[Action]]) -> None:
    hours, minutes = touched(accepted)
    decided.hours |= hours
    decided.minutes |= minutes
    subjects = subjects_of(accepted)
    decided.customers |= subjects.customers
    decided.logins |= subjects.logins
