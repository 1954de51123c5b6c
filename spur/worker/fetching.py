"""The actions consumer's next batch: fetched, as messages, prepared ahead or dropped.

The loop that uses them is spur.worker.consume.consume_actions; why a batch
fetched across a rebalance is dropped and read again: docs/design.md#rebalances.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from spur.settings import Settings
from spur.worker.rebalance_gate import RebalanceGate, read_again
from spur_streams.batch import Message
from spur_streams.steps.erased_detours import ERASED_HASH_HEADER
from spur_streams.steps.route import DETOUR_HEADER

log = logging.getLogger(__name__)

# How long a batch waits for the broker's answer to a fresh fetch (see _fetch):
# a round trip on a healthy broker; when nothing new arrived it costs this much.
FRESH_WAIT_MS = 20


@dataclass
class Fetched:
    rebalances: int  # the gate's count when the fetch began: one begun since drops the batch
    records: dict[TopicPartition, Any]
    messages: list[Message]
    prepared: Any = None  # what ``prepare`` made of them, when read ahead


async def fetched_batch(
    consumer: AIOKafkaConsumer,
    settings: Settings,
    gate: RebalanceGate,
    prepare: Callable[[Sequence[Message]], Awaitable[Any]] | None = None,
) -> Fetched:
    """The next batch (:func:`_fetch`) as messages; prepared too if ``prepare`` is given
    and no rebalance began meanwhile (the batch is dropped then anyway)."""
    rebalances = gate.rebalances
    records = await _fetch(consumer, settings)
    messages = [
        Message(
            tp.topic, tp.partition, record.offset, record.value or b"", None,
            *(_detour(record.headers) if record.headers else _NOT_DETOURED),
        )
        for tp, records_of in records.items()
        for record in records_of
    ]  # fmt: skip
    fetched = Fetched(rebalances, records, messages)
    if prepare is not None and messages and gate.rebalances == rebalances:
        fetched.prepared = await prepare(messages)
    return fetched


async def dropped(
    consumer: AIOKafkaConsumer, settings: Settings, gate: RebalanceGate, fetched: Fetched
) -> None:
    """A batch fetched across a rebalance (or empty): its records are read again."""
    # Of partitions revoked meanwhile (also when the whole rebalance happened
    # between the batch's two fetches): their owner reads them again from the
    # committed offset. That owner may be this consumer, and the records may
    # already be the new assignment's (a fetch that waited through the
    # rebalance): they moved its position past them.
    if back := read_again(consumer, fetched.records):
        # A warning, as the worker logs (process.py): rare, and what a
        # rebalance cost is worth seeing.
        log.warning(
            "%d records fetched across a rebalance were dropped; read again "
            "from (partition: offset) %s", len(fetched.messages), back,
        )  # fmt: skip
    if gate.rebalancing:  # not fetched again before the assignment is heard of
        await gate.settled_within(settings.worker.batch_seconds)


async def _fetch(consumer: AIOKafkaConsumer, settings: Settings) -> dict[TopicPartition, Any]:
    """The next batch: the records the consumer holds, then those the broker got since.

    Why twice: aiokafka fetches a partition's next records as soon as the
    previous ones were taken, so those it holds were fetched when the batch
    before started, a batch's processing time ago; what arrived meanwhile
    would wait one more batch. Taking both halved the time from emission to
    queryable at 5,000 actions/s (bench.latency). The second fetch waits at
    most FRESH_WAIT_MS (it returns as soon as the broker answers with data).
    """
    fetched: dict[TopicPartition, Any] = await consumer.getmany(
        timeout_ms=int(settings.worker.batch_seconds * 1000), max_records=settings.worker.batch_size
    )
    room = settings.worker.batch_size - sum(map(len, fetched.values()))
    if fetched and room > 0:
        fresh = await consumer.getmany(timeout_ms=FRESH_WAIT_MS, max_records=room)
        for tp, records in fresh.items():
            fetched[tp] = fetched.get(tp, []) + records
    return fetched


_NOT_DETOURED: tuple[bool, bytes | None] = (False, None)


def _detour(headers: Sequence[tuple[str, bytes]]) -> tuple[bool, bytes | None]:
    """Message's ``detoured`` and ``erased_hash``, from a worker's detour headers."""
    named = dict(headers)
    if DETOUR_HEADER not in named:
        return _NOT_DETOURED
    return True, named.get(ERASED_HASH_HEADER)
