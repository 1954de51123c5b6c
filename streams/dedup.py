"""Which actions of a batch are new, replays, duplicates or conflicting (pure).

The dedup index maps an action id to where it was first read (partition,
offset) and a hash of its content. A message found in the index *at its own
position* is a replay of that first copy after a crash: it must still reach
the window fold, which skips it if it was already folded. Found at another
position, it is an upstream duplicate (same content: dropped, counted) or a
conflicting duplicate (different content: rejected, the first copy stands).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import xxhash

from schemas.events import Action
from schemas.located import Located
from schemas.validate import encode


@dataclass(frozen=True, slots=True)
class Seen:
    content_hash: int
    partition: int
    offset: int


@dataclass
class DedupResult:
    new: list[Located[Action]] = field(default_factory=list)  # first copies: store them
    replayed: list[Located[Action]] = field(default_factory=list)  # already stored: fold only
    duplicates: list[Located[Action]] = field(default_factory=list)  # same content again: drop
    conflicts: list[Located[Action]] = field(default_factory=list)  # different content: reject
    hashes: dict[uuid.UUID, int] = field(default_factory=dict)  # content hash of each new id

    @property
    def to_fold(self) -> list[Located[Action]]:
        return self.new + self.replayed


def content_hash(action: Action) -> int:
    """A hash of the action's canonical encoding (field order fixed by the struct)."""
    return xxhash.xxh3_64_intdigest(encode(action))


def classify(batch: Sequence[Located[Action]], index: Mapping[uuid.UUID, Seen]) -> DedupResult:
    """Sort a batch's valid actions by what the dedup index (and the batch) knows."""
    result = DedupResult()
    seen = dict(index)
    for item in batch:
        digest = content_hash(item.event)
        first = seen.get(item.event.action_id)
        if first is None:
            seen[item.event.action_id] = Seen(digest, item.partition, item.offset)
            result.new.append(item)
            result.hashes[item.event.action_id] = digest
        elif (first.partition, first.offset) == (item.partition, item.offset):
            result.replayed.append(item)
        elif first.content_hash == digest:
            result.duplicates.append(item)
        else:
            result.conflicts.append(item)
    return result
