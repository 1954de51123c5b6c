"""The actions batch's three reads of the store, sent at once.

Input: the batch's valid actions, the :class:`ErasureLog`, the
:class:`DedupIndex` and the :class:`ConsentSource`.
Output: :class:`BatchReads`: the tombstones, the counted ids among the valid
actions, the consent ledger of their logins that carry a profile; the last
two as a :class:`DedupIndex` and a :class:`ConsentSource` the later steps ask
as they would ask the store.
Why at once: none of the three depends on another, and each is a round trip
that mostly waits on the store (on the reference machine about 12, 27 and
16 ms for a batch of 1,300 actions, one after another). Each answers a
superset of what the later steps ask (the ids of actions that erasure or
routing drop, the logins of duplicates): reads, so harmless.
Failure: each read blocks and retries inside until the store answers; an
error other than the store's is raised here.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_streams.privacy import ConsentLedger
from spur_streams.steps.dedup import DedupIndex
from spur_streams.steps.erasure import ErasureLog, Tombstones
from spur_streams.steps.privacy import ConsentSource

# Two threads for the two reads the calling thread does not do itself; shared
# by every batch of the process (a worker's batches read one after another).
_READERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="spur-batch-reads")


@dataclass(frozen=True)
class KnownIds:
    """A :class:`DedupIndex` answered from one lookup of a superset of the ids asked."""

    hashes: dict[uuid.UUID, int]

    def counted(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        known = self.hashes
        if not known:  # every id new (most batches): no UUID hashed, in Python, per id
            return {}
        return {action_id: known[action_id] for action_id in ids if action_id in known}


@dataclass(frozen=True)
class KnownConsent:
    """A :class:`ConsentSource` answered from one ledger of a superset of the logins asked."""

    known: ConsentLedger

    def ledger(self, logins: Collection[str]) -> ConsentLedger:
        return self.known


@dataclass(frozen=True)
class BatchReads:
    erased: Tombstones
    index: KnownIds
    consent: KnownConsent


def read_at_once(
    actions: Sequence[Located[Action]],
    erasure: ErasureLog,
    index: DedupIndex,
    consent: ConsentSource,
) -> BatchReads:
    """The three reads for ``actions``, sent together; waits for all three."""
    ids = [item.event.action_id for item in actions]
    logins = {item.event.login for item in actions if item.event.profile is not None}
    counted = _READERS.submit(index.counted, ids)
    ledger = _READERS.submit(consent.ledger, logins)
    erased = erasure.read()
    return BatchReads(erased, KnownIds(counted.result()), KnownConsent(ledger.result()))
