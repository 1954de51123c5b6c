"""Committing past what the consumer skipped: transactions' markers and aborted records.

Why: a transaction ends with a marker at an offset of its own, and a
read-committed consumer also skips an aborted transaction's records; neither
is handed to the worker as a message. A batch commits the offset after the
last message it was given, so behind every transaction the group stayed
short of the end, one per partition for a commit (found from outside:
`spur status` and the lag gauge said 1 for ever after a transactional
producer; a check waiting for lag 0 waited in vain).

When is committing the consumer's position exact: when a fetch came back
empty, no batch is in flight and the last batch's tail succeeded. Then every
offset below the position was either given to a batch, which committed it
(or a failed commit of a completed batch: committing past it now is what
that commit meant), or skipped by the consumer as never a message. A batch
dropped at a rebalance moved the position back to what it dropped
(spur.worker.rebalance_gate.read_again) before this can run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)


class CommittedEnds:
    """The actions consumer's commits, remembered: what the group holds per partition."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self.ends: dict[TopicPartition, int] = {}  # committed since the assignment
        self.rebalances = 0  # the gate's count they were committed under

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit ``offsets``; a failed commit is logged (the batch is then replayed)."""
        try:
            await self._consumer.commit(dict(offsets))
        except KafkaError as exc:
            log.warning("a batch's offsets were not committed (%s); it will be replayed", exc)
        else:
            self.ends.update(offsets)

    async def commit_skipped(self, rebalances: int) -> None:
        """Commit the position of each partition whose committed offset is behind it.

        Only where :func:`nothing_in_flight` holds; ``rebalances``: the gate's
        count (a partition's commits are forgotten once it may have moved).
        """
        if rebalances != self.rebalances:
            self.ends.clear()
            self.rebalances = rebalances
        behind: dict[TopicPartition, int] = {}
        try:
            for tp in self._consumer.assignment():
                position = await self._consumer.position(tp)
                if tp not in self.ends:  # once per assignment: a call to the coordinator
                    committed = await self._consumer.committed(tp)
                    # Never committed by the group: behind whatever the position is
                    # (found from outside: a partition holding only an aborted
                    # transaction stayed uncommitted, its lag above 0, for good).
                    self.ends[tp] = -1 if committed is None else committed
                if position > self.ends[tp]:
                    behind[tp] = position
        except KafkaError as exc:  # a rebalance or the broker away: the next idle fetch
            log.debug("skipped offsets not committed now (%s)", exc)
            return
        if behind:
            await self.commit(behind)


def nothing_in_flight(completing: asyncio.Task[None] | None, in_flight: int) -> bool:
    """Whether every batch given to the worker was committed: none in flight, and the
    last one's tail did not fail (its offsets must not be committed then)."""
    if in_flight:
        return False
    if completing is None:
        return True
    return completing.done() and not completing.cancelled() and completing.exception() is None
