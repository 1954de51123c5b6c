"""The actions consumer reads ahead (SPUR_READ_AHEAD): a full batch's successor
is fetched and prepared while it is processed (unit test, no broker; the real
consumer against a real broker runs in the fault suite).

Pinned down here: the next batch's ``prepare`` overlaps this one's
``process`` only behind a full batch (a backlog); batches are still
processed one at a time, in order, each once, with what ``prepare`` made
of them; a batch read ahead across a rebalance is dropped and read again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from aiokafka import AIOKafkaConsumer, TopicPartition

from spur.settings import Settings
from spur.worker.consume import consume_actions
from spur.worker.fetching import FRESH_WAIT_MS
from spur_streams.batch import Message
from tests.worker.test_consume_order import TP, Record, ScriptedConsumer


@dataclass
class Broker(ScriptedConsumer):
    """Hands out ``batches`` one per fetch, then nothing; logs fetches, commits and seeks.

    A batch's second fetch (for what the broker got since its first,
    spur.worker.fetching._fetch) finds nothing: each batch is as scripted."""

    # Awaited before handing out the batch at this offset (a fetch that waits).
    hold: dict[int, asyncio.Event] = field(default_factory=dict)

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        if self.batches and timeout_ms != FRESH_WAIT_MS:
            offsets = self.batches.pop(0)
            if (held := self.hold.pop(offsets[0], None)) is not None:
                await held.wait()
            self.log.append(f"fetch {offsets[0]}")
            return self._handed(offsets)
        await asyncio.sleep(timeout_ms / 1000)
        return {}


@dataclass
class Steps:
    """prepare/process/complete that log what they are given, and when."""

    log: list[str]
    processed: list[list[int]] = field(default_factory=list)
    running: int = 0
    during_process: Any = None  # awaited inside the first process (e.g. a rebalance)

    async def prepare(self, messages: Sequence[Message]) -> tuple[str, list[int]]:
        self.log.append(f"prepare {messages[0].offset}")
        return ("prepared", [m.offset for m in messages])

    async def process(self, prepared: tuple[str, list[int]]) -> int:
        kind, offsets = prepared
        assert kind == "prepared"
        self.running += 1
        assert self.running == 1, "two batches in process at once"
        self.log.append(f"process {offsets[0]} begins")
        if self.during_process is not None:
            during, self.during_process = self.during_process, None
            await during()
        await asyncio.sleep(0.05)  # the store calls
        self.log.append(f"process {offsets[0]} ends")
        self.processed.append(offsets)
        self.running -= 1
        return offsets[-1] + 1

    async def complete(self, end: int) -> None:
        await asyncio.sleep(0.01)


async def consume(
    broker: Broker, steps: Steps, until: str, batch_size: int, *, read_ahead: bool = True
) -> None:
    task = asyncio.create_task(
        consume_actions(
            cast(AIOKafkaConsumer, broker),
            Settings(batch_seconds=0.01, batch_size=batch_size, read_ahead=read_ahead),
            steps.process,
            steps.complete,
            assign=lambda partitions: None,
            prepare=steps.prepare,
        )
    )
    for _ in range(500):
        if until in broker.log or task.done():
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_the_batch_after_a_full_one_is_prepared_while_that_one_is_processed() -> None:
    broker = Broker([[0, 1], [2, 3], [4, 5], [6]])
    steps = Steps(broker.log)
    await consume(broker, steps, until="commit 7", batch_size=2)
    log = broker.log
    assert log.index("prepare 2") < log.index("process 0 ends")  # read ahead
    assert log.index("prepare 4") < log.index("process 2 ends")
    assert steps.processed == [[0, 1], [2, 3], [4, 5], [6]]  # each once, in order
    begins = [line for line in log if line.endswith("begins")]
    assert begins == [f"process {n} begins" for n in (0, 2, 4, 6)]
    assert [line for line in log if line.startswith("commit")] == [
        "commit 2", "commit 4", "commit 6", "commit 7",
    ]  # fmt: skip


async def test_no_batch_is_read_ahead_behind_one_that_is_not_full() -> None:
    broker = Broker([[0], [1], [2]])
    steps = Steps(broker.log)
    await consume(broker, steps, until="commit 3", batch_size=2)
    log = broker.log
    assert log.index("process 0 ends") < log.index("fetch 1")
    assert log.index("process 1 ends") < log.index("fetch 2")
    assert steps.processed == [[0], [1], [2]]


async def test_a_batch_read_ahead_across_a_rebalance_is_dropped_and_read_again() -> None:
    broker = Broker([[0, 1], [2, 3]])
    steps = Steps(broker.log)

    async def rebalance() -> None:
        # Begun while batch 0 is processed and batch 2 read ahead; it waits for
        # batch 0 to be committed, then the partition comes back to this consumer.
        async def revoke_then_assign() -> None:
            await broker.listener.on_partitions_revoked([TP])
            broker.log.append("revoked")
            await broker.listener.on_partitions_assigned([TP])
            broker.batches.append([2, 3])  # read again from where it was set back

        asyncio.create_task(revoke_then_assign())  # noqa: RUF006  # awaited through the log
        await asyncio.sleep(0)

    steps.during_process = rebalance
    await consume(broker, steps, until="commit 4", batch_size=2)
    log = broker.log
    assert "prepare 2" in log  # it had been read ahead and prepared
    assert "seek 2" in log  # dropped: its partition set back to its first record
    assert steps.processed == [[0, 1], [2, 3]]  # batch 2 once, after the rebalance
    assert log.index("revoked") < log.index("process 2 begins")
    assert log.index("commit 2") < log.index("revoked")


async def test_a_batch_read_ahead_through_a_whole_rebalance_is_dropped_and_read_again() -> None:
    # Its fetch began before the rebalance and returned after it was over (the
    # partition back with this consumer): only the count of rebalances tells.
    assigned = asyncio.Event()
    broker = Broker([[0, 1], [2, 3]], hold={2: assigned})
    steps = Steps(broker.log)

    async def rebalance() -> None:
        async def revoke_then_assign() -> None:
            await broker.listener.on_partitions_revoked([TP])
            await broker.listener.on_partitions_assigned([TP])
            broker.log.append("assigned")
            broker.batches.append([2, 3])  # read again from the committed offset
            assigned.set()

        asyncio.create_task(revoke_then_assign())  # noqa: RUF006  # awaited through the log
        await asyncio.sleep(0)

    steps.during_process = rebalance
    await consume(broker, steps, until="commit 4", batch_size=2)
    log = broker.log
    assert log.index("assigned") < log.index("fetch 2")  # the fetch outlived the rebalance
    assert "seek 2" in log
    assert steps.processed == [[0, 1], [2, 3]]


async def test_without_read_ahead_the_next_batch_is_fetched_after_this_one_is_processed() -> None:
    broker = Broker([[0, 1], [2, 3], [4]])
    steps = Steps(broker.log)
    await consume(broker, steps, until="commit 5", batch_size=2, read_ahead=False)
    log = broker.log
    assert log.index("process 0 ends") < log.index("fetch 2")
    assert log.index("process 2 ends") < log.index("fetch 4")
    assert steps.processed == [[0, 1], [2, 3], [4]]
