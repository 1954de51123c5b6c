"""Read dead letters back from ``spur.deadletter.v1``.

Blocking: reads the topic from its beginning to the end offsets seen at the
start, then stops; never waits for new letters.
"""

from __future__ import annotations

from collections import Counter

import msgspec
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from spur.broker import topic_partitions
from spur.topics import Topic
from streams.deadletter import DeadLetter


async def read_dead_letters(bootstrap: str) -> list[DeadLetter]:
    """Every dead letter the topic still retains, oldest first per partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        partitions = await topic_partitions(admin, [Topic.DEADLETTER.value])
    finally:
        await admin.close()
    # auto_offset_reset, not seek_to_beginning: a seek right after assign()
    # races the assignment's own reset to "latest" in aiokafka.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        decoder = msgspec.json.Decoder(DeadLetter)
        letters: list[DeadLetter] = []
        pending = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batches.items():
                letters.extend(decoder.decode(r.value) for r in records if r.value is not None)
                if records and records[-1].offset + 1 >= ends[tp]:
                    pending.discard(tp)
        return letters
    finally:
        await consumer.stop()


def count_by_reason(letters: list[DeadLetter]) -> Counter[str]:
    return Counter(letter.reason for letter in letters)
