"""What a topic retains now, read from its beginning: the tests' view of Kafka.

Production code never reads a topic back whole (the worker consumes, the
status command reads offsets only); the tests check what was published.

Blocking: each read stops at the end offsets seen when it started (it never
waits for new records).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import msgspec
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from spur.broker import topic_partitions
from spur.client.kafka import KafkaTarget, as_target
from spur_schemas.topics import Topic
from spur_streams.deadletter import DeadLetter


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None  # None: a tombstone


async def read_records(bootstrap: str | KafkaTarget, topic: str) -> list[Record]:
    """Every record ``topic`` retains now, tombstones included, in offset order per partition."""
    access = as_target(bootstrap).client_kwargs()
    admin = AIOKafkaAdminClient(**access)
    await admin.start()
    try:
        partitions = await topic_partitions(admin, [topic])
    finally:
        await admin.close()
    # auto_offset_reset, not seek_to_beginning: a seek right after assign()
    # races the assignment's own reset to "latest" in aiokafka.
    consumer = AIOKafkaConsumer(**access, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        read: list[Record] = []
        pending = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batches.items():
                read += [Record(tp.partition, r.offset, r.key, r.value) for r in records]
                if records and records[-1].offset + 1 >= ends[tp]:
                    pending.discard(tp)
        return sorted(read, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def read_topic(bootstrap: str | KafkaTarget, topic: str) -> list[bytes]:
    """Every value ``topic`` retains now, oldest first per partition; never waits for more."""
    return [r.value for r in await read_records(bootstrap, topic) if r.value is not None]


async def read_dead_letters(bootstrap: str | KafkaTarget) -> list[DeadLetter]:
    """Every dead letter the topic still retains, oldest first per partition."""
    decoder = msgspec.json.Decoder(DeadLetter)
    return [decoder.decode(value) for value in await read_topic(bootstrap, Topic.DEADLETTER)]


def count_by_reason(letters: list[DeadLetter]) -> Counter[str]:
    return Counter(letter.reason for letter in letters)
