"""The actions consumer commits past offsets it skipped (spur.worker.markers).

A transaction's closing marker, and an aborted transaction's records, have
offsets but are never handed to the worker; once nothing is in flight the
group's offset moves past them (else `spur status` said lag 1 for ever)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import TopicPartition

from tests.worker.test_consume_order import TP, Record, ScriptedConsumer, recording, run


@dataclass
class SkippingConsumer(ScriptedConsumer):
    """After its batches, an empty fetch reads past ``skipped`` more offsets (as
    aiokafka does over a marker or an aborted batch)."""

    skipped: int = 1

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        got = await super().getmany(timeout_ms, max_records)
        if not got and not self.batches and self.skipped:
            self._position = await self.position(TP) + self.skipped
            self.skipped = 0
        return got


def commits(consumer: ScriptedConsumer) -> list[str]:
    return [line for line in consumer.log if line.startswith("commit")]


async def test_offsets_skipped_behind_the_last_batch_are_committed_once_idle() -> None:
    consumer = SkippingConsumer([[0, 1, 2]], skipped=3)
    process, complete = recording([])
    await run(consumer, process, complete, until=lambda: "commit 6" in consumer.log)
    assert commits(consumer) == ["commit 3", "commit 6"]


async def test_a_partition_the_group_never_committed_is_committed_past_what_it_skipped() -> None:
    """Found from outside: a partition holding only an aborted transaction, read by a
    new group, was never committed (lag 6 for good): no message came to commit it."""
    consumer = SkippingConsumer([], committed_at_start=None, skipped=6)
    process, complete = recording([])
    await run(consumer, process, complete, until=lambda: "commit 6" in consumer.log)
    assert commits(consumer) == ["commit 6"]


async def test_nothing_is_committed_past_a_batch_whose_tail_failed() -> None:
    consumer = SkippingConsumer([[0, 1, 2], [3, 4]])
    process, _ = recording([])

    async def complete(batch: int) -> None:
        if batch == 3:
            await asyncio.sleep(0.2)  # fails while the loop waits in an idle fetch (10 ms)
            raise RuntimeError("the outputs were not acknowledged")

    await run(consumer, process, complete, until=lambda: False)
    assert commits(consumer) == ["commit 3"]


async def test_nothing_is_committed_past_a_batch_still_in_its_tail() -> None:
    consumer = SkippingConsumer([[0, 1, 2]])
    process, _ = recording([])
    tails: list[int] = []

    async def complete(batch: int) -> None:
        tails.append(batch)
        await asyncio.sleep(0.5)  # several idle fetches (10 ms each) meanwhile

    await run(consumer, process, complete, until=lambda: "commit 4" in consumer.log)
    assert tails == [0]
    assert commits(consumer) == ["commit 3", "commit 4"]
