"""Steps 2-5 after the reads (erasure, route, dedup, lateness, privacy), a slice at a time.

Input: a batch's valid actions, what the batch's reads answered
(spur_streams.steps.reads), its messages and the worker's settings.
Output: a :class:`Decided`: the new actions (privacy applied) with their
content hashes, every accepted action (new and duplicates), the detours and
the conflicts' dead letters, each in the batch's order.
Guarantees: the same decisions as the steps over the whole batch at once
(tests/streams/test_decide_slices.py): a slice's dedup sees every id the
slices before it found new (``seen``), detours and letters keep their order,
counts add up. Lateness is measured per slice, in offset order per partition
as a batch holds its messages.
Why slices: the objects of 40,000 actions (tens of MB) do not fit the CPU's
caches; these steps pass over the actions about ten times, and taken
:data:`SLICE` at a time only a slice's first pass misses the caches
(bench.steps: the batch's Python per action was about half at 2,000-action
batches of what it was at 40,000).
Failure: pure apart from metrics and the lateness marks; never raises.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_schemas.messages import DeadLetter
from spur_schemas.metrics import Metrics
from spur_streams.privacy import IpPolicy
from spur_streams.steps.dedup import deduplicate
from spur_streams.steps.erasure import without_erased_customers
from spur_streams.steps.lateness import Lateness
from spur_streams.steps.positions import Positions
from spur_streams.steps.privacy import private_actions
from spur_streams.steps.reads import BatchReads
from spur_streams.steps.route import Detour, not_detoured, route_actions
from spur_streams.steps.validate import Message

SLICE = 2000


@dataclass
class Decided:
    new: list[Located[Action]] = field(default_factory=list)  # privacy applied: store, fold
    hashes: list[int] = field(default_factory=list)  # the content hash of each new action
    accepted: list[Located[Action]] = field(default_factory=list)  # new and duplicates
    detours: list[Detour] = field(default_factory=list)
    conflicts: list[DeadLetter] = field(default_factory=list)


@dataclass(frozen=True)
class DecideRules:
    """What a worker decides by: its partitions (None: no routing), IP policy, lateness."""

    partitions: int | None
    ip_policy: IpPolicy
    lateness: Lateness
    metrics: Metrics


def decide(
    valid: Sequence[Located[Action]],
    reads: BatchReads,
    messages: Sequence[Message],
    now: dt.datetime,
    rules: DecideRules,
    *,
    slice_size: int = SLICE,
) -> Decided:
    decided = Decided()
    positions = Positions(messages)
    seen: dict[int, int] = {}  # id's 128-bit integer -> content hash, across slices
    metrics = rules.metrics
    for start in range(0, len(valid), slice_size):
        accepted = without_erased_customers(
            list(valid[start : start + slice_size]), reads.erased, metrics
        )
        away: list[Located[Action]] = []  # to be decided on their id's partition
        if rules.partitions is not None:
            accepted, away, detours = route_actions(accepted, positions, rules.partitions, metrics)
            decided.detours += detours
        dedup, conflicts = deduplicate(accepted, reads.index, positions, now, metrics, seen=seen)
        # Lateness is the producer's order, so measured where a message arrived.
        rules.lateness.measure(away + not_detoured(dedup.new, positions))
        decided.new += private_actions(dedup.new, rules.ip_policy, reads.consent, metrics)
        decided.hashes += dedup.hashes
        decided.accepted += dedup.accepted
        decided.conflicts += conflicts
    return decided
