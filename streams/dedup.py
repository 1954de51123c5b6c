"""Which actions of a batch are new, duplicates or conflicting (pure).

Input: a batch's valid actions and the dedup index's answer for their ids
(id -> content hash of the copy counted). Output: a :class:`DedupResult`.
An id not in the index (nor earlier in the batch) is new; found with the
same content, a duplicate; with other content, a conflict (rejected, the
first copy stands). Identity is the action id and the content, never the
Kafka position: docs/design.md#identity-is-the-action-id-never-the-kafka-offset.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

import msgspec
import xxhash

from spur_schemas.events import Action
from spur_schemas.located import Located

# The hash of ids indexed from stored raw rows when the index was extended
# (migration 0006): their content hash is unknown, any repeat is a duplicate.
UNKNOWN_HASH = 0

_EVENT = attrgetter("event")


@dataclass
class DedupResult:
    new: list[Located[Action]] = field(default_factory=list)  # not counted yet: store, fold
    duplicates: list[Located[Action]] = field(default_factory=list)  # counted already: drop
    conflicts: list[Located[Action]] = field(default_factory=list)  # different content: reject
    hashes: list[int] = field(default_factory=list)  # content hash of each new action, in order

    @property
    def accepted(self) -> list[Located[Action]]:
        """New and duplicates: the actions whose windows the batch (re)publishes."""
        return self.new + self.duplicates


def content_hashes(actions: Iterable[Action]) -> Iterator[int]:
    """A hash of each action's canonical encoding: the contract's wire format
    (spur_schemas.validate.encode), field order fixed by the struct, so a copy
    sent with its fields in another order or spacing hashes the same. Iterated
    in C: msgspec's encoder itself, no Python call per action. The dedup index
    keeps these hashes: the encoding must never change
    (tests/streams/test_dedup_hashes.py)."""
    return map(xxhash.xxh3_64_intdigest, map(msgspec.json.encode, actions))


def content_hash(action: Action) -> int:
    """:func:`content_hashes` of one action."""
    return next(content_hashes((action,)))


def classify(
    batch: Sequence[Located[Action]],
    index: Mapping[uuid.UUID, int],
    seen: dict[int, int] | None = None,
    known: Mapping[tuple[int, int], int] | None = None,
) -> DedupResult:
    """Sort a batch's valid actions by what the dedup index (id -> hash) and the batch know.

    ``seen``: the hash of each id earlier slices of the same batch classified,
    by the id's 128-bit integer; updated with this slice's (a slice after it
    finds the ids new here as counted). The index answers the same hash for
    an id in every slice, so merging its answers keeps what a slice found.
    ``known``: the hash to take for an action by its (partition, offset)
    instead of its own content's.
    """
    result = DedupResult()
    # Keyed by the ids' 128-bit integers: a UUID's own hash runs in Python.
    if seen is None:
        seen = {}
    seen.update({action_id.int: digest for action_id, digest in index.items()})
    events = list(map(_EVENT, batch))
    hashes: Iterable[int] = content_hashes(events)
    if known:
        hashes = [
            known.get((item.partition, item.offset), digest)
            for item, digest in zip(batch, hashes, strict=True)
        ]
    for item, event, digest in zip(batch, events, hashes, strict=True):
        key = event.action_id.int
        first = seen.get(key)
        if first is None:
            seen[key] = digest
            result.new.append(item)
            result.hashes.append(digest)
        elif first in (digest, UNKNOWN_HASH):
            result.duplicates.append(item)
        else:
            result.conflicts.append(item)
    return result
