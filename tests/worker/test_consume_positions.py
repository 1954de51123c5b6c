"""Records dropped across a rebalance are read again, by this consumer if it still owns them.

The stand-in keeps aiokafka's positions (tests/worker/test_consume_order.py
scripts its batches instead): a fetch hands out records from a partition's
position and moves it past them; a new assignment starts at the committed
offset; ``seek`` moves the position. As aiokafka does, it hands out the new
assignment's records before ``on_partitions_assigned`` has run. Dropped then
and not read again, those records were lost for good: nobody folded their
actions or sent their detours (2 of 8 fault-suite runs billed short).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from spur.settings import Settings
from spur.worker.consume import consume_actions
from spur_schemas.topics import Topic
from spur_streams.batch import Message

TP = TopicPartition(Topic.ACTIONS.value, 0)


@dataclass
class Record:
    offset: int
    value: bytes = b"{}"
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class PositionedConsumer:
    """One partition of ``length`` records, read from a position, as aiokafka reads.

    ``rebalance_at``: the fetch that finds the position there first revokes
    the partition (the listener's revoke), assigns it again from the committed
    offset and hands out records from there. ``heard_late``: the listener
    hears of the assignment only after that fetch returned (aiokafka may
    return records first); otherwise the whole rebalance happens within the
    fetch (a worker waiting in ``getmany`` with nothing to read).
    """

    length: int
    rebalance_at: int
    heard_late: bool
    at: int = 0  # the position
    group_offset: int = 0  # the committed offset
    seeks: list[int] = field(default_factory=list)
    handed_before_assigned: int = 0  # records handed out before the listener heard
    handed_after_rebalance: int = 0  # records handed out by the fetch that rebalanced
    _rebalanced: bool = False
    _assigned: bool = True

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    async def start(self) -> None:
        return None

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        if self.at == self.rebalance_at and not self._rebalanced:
            self._rebalanced = True
            await self.listener.on_partitions_revoked([TP])
            self.at = self.group_offset  # the new assignment's start
            if self.heard_late:
                self._assigned = False
                loop = asyncio.get_running_loop()
                loop.call_soon(lambda: asyncio.ensure_future(self._assign()))
            else:
                await self.listener.on_partitions_assigned([TP])
        end = min(self.at + min(max_records, 3), self.length)
        if end == self.at:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        records = [Record(offset) for offset in range(self.at, end)]
        self.at = end
        self.handed_before_assigned += 0 if self._assigned else len(records)
        if self._rebalanced and not self.handed_after_rebalance:
            self.handed_after_rebalance = len(records)
        return {TP: records}

    async def _assign(self) -> None:
        await self.listener.on_partitions_assigned([TP])
        self._assigned = True

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.group_offset = offsets[TP]

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    async def position(self, tp: TopicPartition) -> int:
        return self.at

    async def committed(self, tp: TopicPartition) -> int:
        return self.group_offset

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append(offset)
        self.at = offset

    async def stop(self) -> None:
        return None


@pytest.mark.parametrize("heard_late", [True, False], ids=["heard-late", "within-the-fetch"])
async def test_the_new_assignments_records_dropped_in_a_rebalance_are_read_again(
    heard_late: bool,
) -> None:
    consumer = PositionedConsumer(length=12, rebalance_at=6, heard_late=heard_late)
    processed: list[int] = []

    async def process(messages: Sequence[Message]) -> int:
        processed.extend(message.offset for message in messages)
        return len(messages)

    async def complete(batch: int) -> None:
        return None

    task = asyncio.create_task(
        consume_actions(
            cast(AIOKafkaConsumer, consumer), Settings(batch_seconds=0.01, batch_size=6),
            process, complete, assign=lambda partitions: None,
        )
    )  # fmt: skip
    for _ in range(300):
        if consumer.group_offset == consumer.length or task.done():
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    assert consumer.handed_after_rebalance > 0, "the test attacks nothing"
    assert (consumer.handed_before_assigned > 0) == heard_late
    assert sorted(set(processed)) == list(range(consumer.length)), processed
    assert consumer.group_offset == consumer.length
