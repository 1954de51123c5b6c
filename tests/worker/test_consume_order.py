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
from spur.worker.consume import consume_actions
from spur_schemas.topics import Topic
from spur_streams.batch import Message

TP = TopicPartition(Topic.ACTIONS.value, 0)


@dataclass
class Record:
    offset: int
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class ScriptedConsumer:
    """Hands out ``batches`` one per fetch, then nothing; logs every commit.

    After a fetch that returned records the loop fetches once more, for what
    the broker got since (spur.worker.fetching._fetch): that fetch hands out
    the next of ``fresh`` (nothing once they are used up).
    """

    batches: list[list[int]]
    fresh: list[list[int]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    handed_out: asyncio.Event = field(default_factory=asyncio.Event)  # every batch fetched
    # Awaited inside the next fetch for what the broker got since (e.g. a rebalance).
    during_fresh: Any = None
    # The group's committed offset when the consumer starts (its position too);
    # None: the group never committed the partition (the position is 0).
    committed_at_start: int | None = 0
    _fresh_next: bool = False
    _position: int | None = None  # after the records handed out (or a seek)
    _committed: int | None = None

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    async def start(self) -> None:
        self.log.append("start")
        self.started.set()

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        if self._fresh_next:
            self._fresh_next = False
            if self.during_fresh is not None:
                during, self.during_fresh = self.during_fresh, None
                await during()
            offsets = self.fresh.pop(0) if self.fresh else []
            return self._handed(offsets) if offsets else {}
        if self.batches:
            self._fresh_next = True
            offsets = self.batches.pop(0)
            if not self.batches:
                self.handed_out.set()
            return self._handed(offsets)
        await asyncio.sleep(timeout_ms / 1000)
        return {}

    def _handed(self, offsets: list[int]) -> dict[TopicPartition, list[Record]]:
        self._position = offsets[-1] + 1
        return {TP: [Record(offset, b"{}") for offset in offsets]}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.log.append(f"commit {offsets[TP]}")
        self._committed = offsets[TP]

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    async def position(self, tp: TopicPartition) -> int:
        return self._position if self._position is not None else self.committed_at_start or 0

    async def committed(self, tp: TopicPartition) -> int | None:
        return self._committed if self._committed is not None else self.committed_at_start

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.log.append(f"seek {offset}")
        self._position = offset

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
            assign=forget or (lambda partitions: None),
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


def recording(processed: list[int]) -> tuple[Any, Any]:
    """``process`` that notes each offset it is given in ``processed``; ``complete`` a no-op."""

    async def process(messages: Sequence[Message]) -> int:
        processed.extend(m.offset for m in messages)
        return first_offset(messages)

    async def complete(batch: int) -> None:
        return None

    return process, complete


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


async def test_what_the_broker_got_since_the_prefetch_joins_the_batch() -> None:
    consumer = ScriptedConsumer([[0, 1], [4]], fresh=[[2, 3]])
    log = consumer.log
    batches: list[list[int]] = []

    async def process(messages: Sequence[Message]) -> int:
        batches.append([message.offset for message in messages])
        return first_offset(messages)

    async def complete(batch: int) -> None:
        pass

    await run(consumer, process, complete, until=lambda: "commit 5" in log)

    assert batches == [[0, 1, 2, 3], [4]]
    assert [line for line in log if line.startswith("commit")] == ["commit 4", "commit 5"]


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
            assign=lambda partitions: None,
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


async def test_a_revocation_waits_until_the_batch_in_flight_is_committed() -> None:
    consumer = ScriptedConsumer([[0, 1]])
    log = consumer.log
    release = asyncio.Event()
    processing = asyncio.Event()

    async def process(messages: Sequence[Message]) -> int:
        processing.set()
        await release.wait()  # a slow store
        return first_offset(messages)

    async def complete(batch: int) -> None:
        log.append("tail")

    async def revoke_midway() -> None:
        await processing.wait()
        revoking = asyncio.create_task(consumer.listener.on_partitions_revoked([TP]))
        await asyncio.sleep(0.1)
        assert not revoking.done(), "the partition moved while its batch was running"
        release.set()
        await asyncio.wait_for(revoking, 5)
        log.append("revoked")

    revoker = asyncio.create_task(revoke_midway())
    await run(consumer, process, complete, until=lambda: "revoked" in log or revoker.done())
    await revoker
    assert log.index("commit 2") < log.index("revoked")


async def test_records_fetched_during_a_rebalance_are_left_to_the_next_owner() -> None:
    consumer = ScriptedConsumer([], committed_at_start=5)
    processed: list[int] = []
    process, complete = recording(processed)

    async def rebalance_then_assign() -> None:
        await consumer.started.wait()
        await consumer.listener.on_partitions_revoked([TP])  # nothing in flight: at once
        consumer.batches.append([5, 6])
        await consumer.handed_out.wait()
        await asyncio.sleep(0.05)  # time enough to process them, were they not dropped
        assert processed == []
        await consumer.listener.on_partitions_assigned([TP])
        consumer.batches.append([5, 6])

    driver = asyncio.create_task(rebalance_then_assign())
    await run(consumer, process, complete, until=lambda: "commit 7" in consumer.log)
    await driver
    assert processed == [5, 6]
    assert [line for line in consumer.log if line.startswith("commit")] == ["commit 7"]


async def test_records_fetched_before_a_whole_rebalance_are_left_to_the_next_owner() -> None:
    # The batch's first fetch got records; the whole rebalance (revoked, then
    # assigned again) happened while the second fetch waited. Those records
    # were processed here while the partition's next owner read them from the
    # committed offset too: folded twice (a fault test billed over, 2026-12-06).
    consumer = ScriptedConsumer([[5, 6]], committed_at_start=5)
    processed: list[int] = []
    process, complete = recording(processed)

    async def rebalance() -> None:
        await consumer.listener.on_partitions_revoked([TP])
        await consumer.listener.on_partitions_assigned([TP])
        consumer.batches.append([5, 6])  # read again from the committed offset

    consumer.during_fresh = rebalance
    await run(consumer, process, complete, until=lambda: "commit 7" in consumer.log)
    assert processed == [5, 6]
    assert [line for line in consumer.log if line.startswith("commit")] == ["commit 7"]


async def test_batches_are_processed_one_at_a_time_in_order() -> None:
    consumer = ScriptedConsumer([[0], [1], [2], [3]])
    log = consumer.log
    running = 0

    async def process(messages: Sequence[Message]) -> int:
        nonlocal running
        running += 1
        assert running == 1, "two batches in process at once"
        log.append(f"process {first_offset(messages)} begins")
        await asyncio.sleep(0.05)  # the store calls
        log.append(f"process {first_offset(messages)} ends")
        running -= 1
        return first_offset(messages)

    async def complete(batch: int) -> None:
        await asyncio.sleep(0.02)

    task = asyncio.create_task(
        consume_actions(
            cast(AIOKafkaConsumer, consumer), Settings(batch_seconds=0.01), process,
            complete, assign=lambda partitions: None,
        )
    )  # fmt: skip
    for _ in range(500):
        if "commit 4" in log or task.done():
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    # The next batch is processed only once this one is (see consume_actions).
    assert log.index("process 0 ends") < log.index("process 1 begins")
    begins = [line for line in log if line.endswith("begins")]
    assert begins == [f"process {n} begins" for n in range(4)]  # in order
    assert [line for line in log if line.startswith("commit")] == [
        "commit 1", "commit 2", "commit 3", "commit 4",
    ]  # fmt: skip
