"""Step ``dedup``: which valid actions are new, duplicates or conflicting.

Input: the batch's valid actions (erased customers' already dropped), the
raw messages they came from, and a :class:`DedupIndex`.
Output: a :class:`spur_streams.dedup.DedupResult` (new, duplicates, conflicts,
the content hash of each new id) and a ``conflicting_duplicate`` dead letter
per conflict; duplicates are counted (``DUPLICATES``).
Guarantees: identity is the action id and its content, never the Kafka
offset; an id in the index is counted, because the index row is written by
the very statement that folds the action
(docs/design.md#one-statement-counts-an-action).
Failure: the classification is pure; the index lookup blocks and retries
inside until the store answers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Protocol

from spur_schemas.events import Action
from spur_schemas.located import Located
from spur_schemas.messages import DeadLetter
from spur_schemas.metrics import DUPLICATES, Metrics
from spur_schemas.rejections import Rejection
from spur_streams.dedup import DedupResult, classify
from spur_streams.steps.positions import Positions
from spur_streams.steps.validate import reject


class DedupIndex(Protocol):
    """Every action id counted so far -> its content hash (spur_sinks.dedup_index)."""

    def counted(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """The content hash of each of ``ids`` already counted (absent: not counted).

        An id indexed with :data:`spur_streams.dedup.UNKNOWN_HASH` and another hash
        answers the unknown one. Blocks; no store call for no ids.
        """


def deduplicate(
    accepted: list[Located[Action]],
    index: DedupIndex,
    positions: Positions,
    now: dt.datetime,
    metrics: Metrics,
    *,
    seen: dict[int, int] | None = None,
    known: Mapping[tuple[int, int], int] | None = None,
) -> tuple[DedupResult, list[DeadLetter]]:
    """Classify ``accepted`` against the index; the conflicts' dead letters.

    ``seen``: what earlier slices of the same batch classified (see
    :func:`spur_streams.dedup.classify`), updated with this slice's. ``known``:
    the content hash of some actions by Kafka position, instead of their own
    (an erased login's detours, spur_streams.steps.erased_detours).
    """
    ids = [item.event.action_id for item in accepted]
    dedup = classify(accepted, index.counted(ids), seen, known)
    letters = []
    for item in dedup.conflicts:
        rejection = Rejection(
            "conflicting_duplicate",
            f"action_id {item.event.action_id} was seen before with different content; "
            "the first copy stands",
            "action_id",
        )
        message = positions[(item.partition, item.offset)]
        letters.append(reject(message, rejection, Action, now))
    metrics.inc(DUPLICATES, len(dedup.duplicates))
    return dedup, letters
