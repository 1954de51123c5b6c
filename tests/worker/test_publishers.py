"""The worker's publisher puts each window state where the producer's partitioner would,
in order, every message once; a detour goes where it says, with its headers
(spur.worker.publishers)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from aiokafka.partitioner import murmur2
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.memory_records import MemoryRecords

from spur.worker.publishers import ProducerPublisher
from spur_schemas.topics import Topic
from spur_streams.steps.route import DETOUR_HEADER, Detour
from spur_streams.steps.validate import Message

PARTITIONS = 6
Sent = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


class RecordingProducer:
    """What the publisher uses of an AIOKafkaProducer; the records of every batch it was
    handed, by topic and partition, read back from the batch's bytes as a broker would."""

    def __init__(self) -> None:
        self.sent: dict[tuple[str, int], list[Sent]] = {}

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(PARTITIONS))

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(2_048, 0)  # small: a partition's messages take several

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> Any:
        records = MemoryRecords(bytes(batch._build())).next_batch()
        self.sent.setdefault((topic, partition), []).extend(
            (r.key, r.value, list(r.headers)) for r in records
        )
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def test_window_states_go_to_their_keys_partitions_in_order() -> None:
    rng = random.Random(3)
    messages = [
        (f"{rng.randint(1, 50)}:2026-11-{rng.randint(1, 30):02}T10:00:00+00:00".encode(),
         f'{{"n":{n}}}'.encode())
        for n in range(3_000)
    ]  # fmt: skip
    producer = RecordingProducer()
    asyncio.run(ProducerPublisher(producer).publish(Topic.USAGE, messages))
    assert sum(map(len, producer.sent.values())) == len(messages)
    for (topic, partition), records in producer.sent.items():
        assert topic == Topic.USAGE.value
        expected: list[Sent] = [
            (key, value, [])
            for key, value in messages
            if (murmur2(key) & 0x7FFFFFFF) % PARTITIONS == partition
        ]
        assert records == expected  # every one of the partition's, in publication order
    assert len(producer.sent) == PARTITIONS


def test_detours_go_where_they_say_with_their_origin() -> None:
    origin = Message(Topic.ACTIONS.value, 2, 41, b"{}")
    detours = [
        Detour(Topic.ACTIONS, 1, b"k1", b"v1", origin),
        Detour(Topic.ACTIONS, 1, b"k2", b"v2", origin, b"7:seal"),
        Detour(Topic.CONSENT, 0, b"ann", None, None),
    ]
    producer = RecordingProducer()
    asyncio.run(ProducerPublisher(producer).publish_placed(detours))
    where = [(DETOUR_HEADER, b"spur.actions.v1/2/41")]
    assert producer.sent == {
        (Topic.ACTIONS.value, 1): [
            (b"k1", b"v1", where),
            (b"k2", b"v2", [*where, ("spur-erased-hash", b"7:seal")]),
        ],
        (Topic.CONSENT.value, 0): [(b"ann", None, [])],
    }
