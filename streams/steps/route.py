"""Step ``route``: every copy of one key is decided on one partition, so by one worker.

Input: a batch's valid actions with their Kafka positions (or a batch of
consent messages), the raw messages they came from, and the topic's
partition count.
Output: the events already on their canonical partition (the rest of the
batch goes on with them), and a :class:`Detour` per event that is not: its
original bytes, to be re-published under the canonical key on the canonical
partition (spur_streams.steps.publish), where the partition's owner decides it
with every other copy. Mis-routed messages are counted (``MISKEYED``).
Guarantees: the canonical partition is a function of the event's identity
alone (actions: the action id; consent: the login), never of the key or
partitioner a producer used, so a message that arrives there is never routed
again. The batch's offsets are committed only after its detours are
acknowledged (step commit), so a crash re-routes a message once more; its
copies then meet on one partition as exact repeats (step dedup).
Failure: pure; never raises for any input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from spur_schemas.events import Action, Consent
from spur_schemas.located import Located
from spur_schemas.metrics import EVENTS_IN, MISKEYED, Metrics
from spur_schemas.partitioning import partition_of
from spur_schemas.topics import Topic, action_key, consent_key
from spur_schemas.validate import TimeLimits
from spur_streams.routing import partitions_of_uuids
from spur_streams.steps.detours import DETOUR_HEADER, Detour
from spur_streams.steps.erased_detours import sealed_detour, unsealed
from spur_streams.steps.erasure import NO_TOMBSTONES, Tombstones
from spur_streams.steps.positions import Positions
from spur_streams.steps.validate import Message, split

E = TypeVar("E", Action, Consent)

__all__ = ["DETOUR_HEADER", "ConsentRoute", "Detour", "route_actions", "route_consent"]


def route_actions(
    accepted: list[Located[Action]],
    positions: Positions,
    partitions: int,
    metrics: Metrics,
    erased: Tombstones = NO_TOMBSTONES,
) -> tuple[list[Located[Action]], list[Located[Action]], list[Detour]]:
    """Split ``accepted`` into the actions on their id's partition and the rest (away),
    with a detour for each of the rest: its original bytes, or, for an action of a
    login ``erased`` before it started, those without the person
    (spur_streams.steps.erased_detours)."""
    canonical = partitions_of_uuids([item.event.action_id for item in accepted], partitions)
    arrived = np.fromiter((item.partition for item in accepted), np.int64, len(accepted))
    misplaced = np.flatnonzero(canonical != arrived).tolist()
    if not misplaced:
        return accepted, [], []
    moving = set(misplaced)
    here = [item for i, item in enumerate(accepted) if i not in moving]
    away = [accepted[i] for i in misplaced]
    detours = [_action_detour(accepted[i], int(canonical[i]), positions, erased) for i in misplaced]
    metrics.inc(MISKEYED, len(detours), topic=Topic.ACTIONS)
    return here, away, detours


@dataclass
class ConsentRoute:
    """A consent batch split by where its decisions belong."""

    here: list[Message] = field(default_factory=list)  # to process on this partition
    detours: list[Detour] = field(default_factory=list)  # under the login's key and partition
    decisions: list[Consent] = field(default_factory=list)  # what each detour carries
    # Tombstones of the originals, published once the detours are acknowledged.
    stale: list[Detour] = field(default_factory=list)


def _erased(decision: Consent, erased: Tombstones) -> bool:
    return erased.customer_erased_before(
        decision.customer_id, decision.ts
    ) or erased.login_erased_before(decision.login, decision.ts)


def raced_erasure(route: ConsentRoute, erased: Tombstones) -> list[Detour]:
    """Tombstones for the detours whose subject was erased while they were on their way.

    ``erased`` is read after the detours were acknowledged. An erasure records
    its subject before it publishes its own tombstones: a subject not yet
    recorded then gets those after the detour; one recorded gets this one.
    Either way no re-published decision of an erased subject is the last
    word under its key.
    """
    return [
        Detour(Topic.CONSENT, detour.partition, detour.key, None, None)
        for detour, decision in zip(route.detours, route.decisions, strict=True)
        if _erased(decision, erased)
    ]


def route_consent(
    messages: Sequence[Message],
    limits: TimeLimits,
    erased: Tombstones,
    now: dt.datetime,
    *,
    partitions: int,
    metrics: Metrics,
) -> ConsentRoute:
    """Which consent messages are under their login's key on its partition, and detours.

    The consent ledger is compacted by key per partition: a decision under
    another key, or on another partition than its login's, would survive the
    tombstones ``spur erase`` publishes for the login. Such a decision is
    re-published under the login's key on its partition (not if its subject
    was erased since: that copy would outlive the erasure), and its original
    is tombstoned where that cannot remove another record: on a partition
    that is not its key's own, every earlier message under that key is
    misplaced too and was re-routed before (a partition is read in order).
    Invalid messages and tombstones stay here (dead letters, skipped).
    """
    valid = split([m for m in messages if m.value], Consent, now, limits)
    keys = {(m.partition, m.offset): m.key for m in messages}
    misplaced: dict[tuple[int, int], tuple[Located[Consent], int]] = {}
    for item in valid.accepted:
        key = consent_key(item.event.login)
        canonical = partition_of(key, partitions)
        if canonical != item.partition or keys[(item.partition, item.offset)] != key:
            misplaced[(item.partition, item.offset)] = (item, canonical)
    route = ConsentRoute(here=[m for m in messages if (m.partition, m.offset) not in misplaced])
    if not misplaced:
        return route
    kept = [(item, p) for item, p in misplaced.values() if not _erased(item.event, erased)]
    route.detours = _detours(
        Topic.CONSENT, kept, Positions(messages), lambda e: consent_key(e.login)
    )
    route.decisions = [item.event for item, _ in kept]
    for item, _ in misplaced.values():
        origin = keys[(item.partition, item.offset)]
        if origin is not None and partition_of(origin, partitions) != item.partition:
            route.stale.append(Detour(Topic.CONSENT, item.partition, origin, None, None))
    metrics.inc(MISKEYED, len(misplaced), topic=Topic.CONSENT)
    # Read here, though processed where they belong: counted like every message read.
    metrics.inc(EVENTS_IN, len(misplaced), topic=Topic.CONSENT)
    return route


def not_detoured(items: list[Located[Action]], positions: Positions) -> list[Located[Action]]:
    """``items`` less those read from a copy a worker re-routed here (already measured)."""
    rerouted = positions.rerouted
    if not rerouted:
        return items
    return [item for item in items if (item.partition, item.offset) not in rerouted]


def _action_detour(
    item: Located[Action], partition: int, positions: Positions, erased: Tombstones
) -> Detour:
    event = item.event
    origin = positions[(item.partition, item.offset)]
    key = action_key(event.action_id)
    sealed = origin.erased_hash
    if sealed is not None and unsealed(erased.key, event.action_id, sealed, origin.value):
        # Redacted and sealed here already (moved again: the topic has more partitions
        # now); the seal covers these very bytes.
        return Detour(Topic.ACTIONS, partition, key, origin.value, origin, sealed)
    if erased.login_erased_before(event.login, event.started_at):
        return sealed_detour((Topic.ACTIONS, partition), event, origin, erased.key)
    return Detour(Topic.ACTIONS, partition, key, origin.value, origin)


def _detours(
    topic: Topic,
    moving: Sequence[tuple[Located[E], int]],
    positions: Positions,
    key_of: Callable[[E], bytes],
) -> list[Detour]:
    detours = []
    for item, partition in moving:
        origin = positions[(item.partition, item.offset)]
        detours.append(Detour(topic, partition, key_of(item.event), origin.value, origin))
    return detours
