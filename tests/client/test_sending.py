"""The client's batches go where ``send`` would have put each event, in emission order."""

from __future__ import annotations

import uuid

from aiokafka.producer.message_accumulator import BatchBuilder

from spur.client.sending import Item, by_partition, filled_batches
from spur_schemas.partitioning import murmur2_partitioner
from spur_schemas.topics import action_key

PARTITIONS = {"spur.actions.v1": [0, 1, 2, 3], "spur.web.v1": [0, 1, 2, 3]}


def actions(count: int) -> list[Item]:
    return [("spur.actions.v1", action_key(uuid.uuid4()), b'{"n":%d}' % n) for n in range(count)]


def test_a_keyed_event_goes_to_the_partition_the_producer_would_pick() -> None:
    items = actions(2_000)
    groups = by_partition(items, PARTITIONS)
    for (topic, partition), group in groups.items():
        for _, key, _ in group:
            assert topic == "spur.actions.v1"
            assert partition == murmur2_partitioner(key, [0, 1, 2, 3], [0, 1, 2, 3])
    assert len(groups) == 4  # 2,000 random ids reach every partition


def test_each_partition_keeps_the_emission_order() -> None:
    items = actions(1_000)
    for group in by_partition(items, PARTITIONS).values():
        positions = [items.index(item) for item in group]
        assert positions == sorted(positions)
    assert sum(len(g) for g in by_partition(items, PARTITIONS).values()) == len(items)


def test_unkeyed_events_of_one_chunk_share_one_partition() -> None:
    web = [("spur.web.v1", None, b"{}") for _ in range(100)]
    groups = by_partition(web + actions(10), PARTITIONS)
    assert len([key for key in groups if key[0] == "spur.web.v1"]) == 1


class Producer:
    """What filled_batches uses of an AIOKafkaProducer: aiokafka's own batch builder."""

    def __init__(self, max_batch_size: int) -> None:
        self.max_batch_size = max_batch_size

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.max_batch_size, 0)


def test_batches_hold_every_item_once_in_order_and_split_when_full() -> None:
    records = [(b"k", bytes(300), None) for _ in range(100)]
    batches = list(filled_batches(Producer(max_batch_size=4_096), records))
    assert len(batches) > 1
    assert [n for _, held in batches for n in held] == list(range(100))


def test_an_item_larger_than_a_batch_has_one_of_its_own() -> None:
    small = (b"k", b"x", None)
    large = (b"k", bytes(10_000), [("h", b"v")])
    batches = list(filled_batches(Producer(max_batch_size=1_024), [small, large, small]))
    assert [list(held) for _, held in batches] == [[0], [1], [2]]
