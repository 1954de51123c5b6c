"""The actions consumer's rebalance gate, and records dropped across a rebalance read again.

:class:`RebalanceGate` holds a rebalance until no batch is in flight (a
partition moves only after its batches committed) and tells the consumer
loop that a rebalance began or is under way, so a batch fetched across one
is dropped. :func:`read_again` sets the partitions of such a batch that
this consumer still holds back to its first record. Why both:
docs/design.md#rebalances.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError


class RebalanceGate(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """Holds a rebalance until no batch is in flight, and new batches until it is over."""

    def __init__(
        self,
        assign: Callable[[Iterable[int]], None],
        revoke: Callable[[Iterable[int]], None] | None = None,
    ) -> None:
        self._assign = assign
        self._revoke = revoke
        self.in_flight = 0  # batches fetched and not yet committed (or abandoned)
        self.idle = asyncio.Event()
        self.idle.set()
        self.settled = asyncio.Event()  # no rebalance under way
        self.settled.set()
        self.rebalances = 0  # begun so far: a batch fetched across one is dropped

    @property
    def rebalancing(self) -> bool:
        """Begun (partitions revoked) and not over (none assigned yet)."""
        return not self.settled.is_set()

    def batch_started(self) -> None:
        self.in_flight += 1
        self.idle.clear()

    def batch_ended(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self.idle.set()

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.settled.clear()
        self.rebalances += 1
        await self.idle.wait()  # aiokafka keeps heartbeating meanwhile
        if self._revoke is not None:
            self._revoke(tp.partition for tp in revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        # Another worker may have written these partitions' windows meanwhile.
        self._assign(tp.partition for tp in assigned)
        self.settled.set()

    async def settled_within(self, seconds: float) -> None:
        """Wait until the rebalance under way is over, at most ``seconds``."""
        try:
            await asyncio.wait_for(self.settled.wait(), seconds)
        except TimeoutError:
            return


def read_again(consumer: AIOKafkaConsumer, dropped: Mapping[TopicPartition, Any]) -> dict[int, int]:
    """Set each partition of ``dropped`` still assigned back to its first dropped record.

    Why: a fetch that waited through a whole rebalance (a worker idle in
    ``getmany``) returns the new assignment's records, read from its committed
    offset; aiokafka may even hand them out before ``on_partitions_assigned``
    ran; either way it moves the position past them. Dropped without this,
    when the new owner is this consumer, they were never
    read again by anyone: their actions were never folded, their detours never
    sent, and a batch a killed worker folded was never rewritten (measured in
    tests/faults/test_any_key_any_worker.py under load: 26 of 7,176 actions
    never reached their canonical partition, 8 folded hours never written;
    tests/worker/test_consume_positions.py).
    Going back never skips a record; at worst one is read twice (a replay,
    which every step tolerates). Returns partition -> offset of those set back.
    """
    assigned = consumer.assignment()
    back: dict[int, int] = {}
    for tp, records in dropped.items():
        if records and tp in assigned:
            first = min(record.offset for record in records)
            try:
                consumer.seek(tp, first)
            except IllegalStateError:  # revoked meanwhile: its next owner reads it
                continue
            back[tp.partition] = first
    return back
