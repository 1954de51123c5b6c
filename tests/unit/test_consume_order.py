"""The actions consumer's loop: what it commits, and when (unit test, no broker).

A scripted stand-in for the aiokafka consumer hands out fixed batches; the
real consumer against a real broker is exercised by the fault suite
(tests/integration). Here the ordering rules are pinned down exactly:
a batch's offsets are committed only after its tail completed, in order,
and never when its processing or its tail failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from spur.settings import Settings
from spur.topics import Topic
from streams.batch import Message
from streams.consume import consume_actions

TP = TopicPartition(Topic.ACTIONS.value, 0)


@dataclass
class Record:
    offset: int
    value: bytes


@dataclass
class ScriptedConsumer:
    """Hands out ``batches`` one per ``getmany``, then nothing; logs every commit."""

    batches: list[list[int]]
    log: list[str] = field(default_factory=list)

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    async def start(self) -> None:
        self.log.append("start")

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        if self.batches:
            offsets = self.batches.pop(0)
            return {TP: [Record(offset, b"{}") for offset in offsets]}
        await asyncio.sleep(timeout_ms / 1000)
        return {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.log.append(f"commit {offsets[TP]}")

    async def stop(self) -> None:
        self.log.append("stop")


async def run(
    consumer: ScriptedConsumer,
    process: Any,
    complete: Any,
    until: Any,
    forget: Any = None,
) -> None:
    """Run the loop until ``until()`` holds (or it fails), then cancel it."""
    task = asyncio.create_task(
        consume_actions(
            cast(AIOKafkaConsumer, consumer),
            Settings(batch_seconds=0.01),
            process,
            complete,
            forget or (lambda partitions: None),
        )
    )
    for _ in range(500):
        if until() or task.done():
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def first_offset(messages: Sequence[Message]) -> int:
    return messages[0].offset


async def test_offsets_are_committed_after_each_tail_in_order_and_tails_overlap() -> None:
    consumer = ScriptedConsumer([[0, 1], [2, 3], [4]])
    log = consumer.log

    async def process(messages: Sequence[Message]) -> int:
        log.append(f"process {first_offset(messages)}")
        return first_offset(messages)

    async def complete(batch: int) -> None:
        log.append(f"tail {batch} begins")
        await asyncio.sleep(0.05)  # the store and the broker take a while
        log.append(f"tail {batch} ends")

    await run(consumer, process, complete, until=lambda: "commit 5" in log)

    assert [line for line in log if line.startswith("commit")] == [
        "commit 2", "commit 4", "commit 5",
    ]  # fmt: skip
    for batch, committed in ((0, "commit 2"), (2, "commit 4"), (4, "commit 5")):
        assert log.index(f"tail {batch} ends") < log.index(committed)
    # The next batch was processed while the previous tail was still running.
    assert log.index("process 2") < log.index("tail 0 ends")
    assert log[-1] == "stop"


async def test_a_failing_tail_commits_nothing_of_its_batch() -> None:
    consumer = ScriptedConsumer([[0, 1], [2]])

    async def process(messages: Sequence[Message]) -> int:
        return first_offset(messages)

    async def complete(batch: int) -> None:
        if batch == 2:
            raise RuntimeError("the broker refused the window states")

    with pytest.raises(RuntimeError, match="refused"):
        await consume_actions(
            cast(AIOKafkaConsumer, consumer),
            Settings(batch_seconds=0.01),
            process,
            complete,
            lambda partitions: None,
        )
    assert consumer.log == ["start", "commit 2", "stop"]


async def test_a_batch_cancelled_in_processing_is_not_committed_but_the_one_before_is() -> None:
    consumer = ScriptedConsumer([[0], [1]])
    started = asyncio.Event()

    async def process(messages: Sequence[Message]) -> int:
        if first_offset(messages) == 1:
            started.set()
            await asyncio.sleep(60)  # a store outage: the worker is stopped meanwhile
        return first_offset(messages)

    async def complete(batch: int) -> None:
        return None

    await run(consumer, process, complete, until=started.is_set)
    assert consumer.log == ["start", "commit 1", "stop"]


async def test_reassigned_partitions_are_forgotten() -> None:
    consumer = ScriptedConsumer([])
    forgotten: list[int] = []

    def forget(partitions: Iterable[int]) -> None:
        forgotten.extend(partitions)

    async def nothing(value: Any) -> None:
        return None

    await run(consumer, nothing, nothing, until=lambda: "start" in consumer.log, forget=forget)
    await consumer.listener.on_partitions_assigned([TP, TopicPartition(Topic.ACTIONS.value, 3)])
    assert forgotten == [0, 3]
