"""The client's partitioner places every key where aiokafka's (Java's murmur2) does."""

from __future__ import annotations

import random
import uuid

from aiokafka.partitioner import DefaultPartitioner

from spur_schemas.partitioning import murmur2_partitioner
from spur_schemas.topics import action_key


def test_the_faster_partitioner_places_keys_like_aiokafkas() -> None:
    rng = random.Random(3)
    keys = [action_key(uuid.uuid4()) for _ in range(2000)]
    keys += [rng.randbytes(rng.randint(0, 64)) for _ in range(2000)]
    for count in (1, 4, 7, 12):
        partitions = list(range(count))
        for key in keys:
            expected = DefaultPartitioner()(key, partitions, partitions)
            assert murmur2_partitioner(key, partitions, partitions) == expected


def test_a_null_key_goes_to_an_available_partition() -> None:
    assert {murmur2_partitioner(None, [0, 1, 2, 3], [2]) for _ in range(20)} == {2}
    assert murmur2_partitioner(None, [0, 1, 2, 3], []) in {0, 1, 2, 3}
