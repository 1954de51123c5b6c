"""`spur erase --login` leaves no decision of the login in Kafka, whatever key or partitioner.

Decisions of one login are published under its own key but where librdkafka's
CRC32 partitioner puts them, and under keys of other producers' rules
(``customer-7``, ``00000007``) on other partitions; a second login's
decisions are the control. After the worker read them and `spur erase
--login` ran, the consent topic is read from the beginning: every (partition,
key) that holds a decision of the erased login ends on a tombstone, so
compaction leaves none; the other login's latest decision stays. The erasure
runs while no worker does (its tombstones alone cover the login's key on
every partition), then a worker removes the decisions under other keys; a
decision from before the erasure that arrives late and mis-keyed is not
brought back either.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
import zlib
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from spur.client.kafka import KafkaTarget
from spur_schemas.events import Consent
from spur_schemas.topics import Topic
from spur_schemas.validate import encode
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.topic_contents import Record, read_records

pytestmark = pytest.mark.integration

PARTITIONS = 4
GROUP = "consent-anykey"


def _murmur2_partition(key: bytes) -> int:
    return int(murmur2(key) & 0x7FFFFFFF) % PARTITIONS


def _crc32_partition(key: bytes) -> int:
    return zlib.crc32(key) % PARTITIONS


# A login whose CRC32 partition is not its murmur2 one, and a control login.
ERASED = next(
    f"ann{n}@example.com"
    for n in range(100)
    if _crc32_partition(f"ann{n}@example.com".encode())
    != _murmur2_partition(f"ann{n}@example.com".encode())
)
KEPT = "bob@example.com"


def decision(login: str, *, granted: bool, days_ago: float) -> Consent:
    return Consent(
        consent_id=uuid.uuid4(),
        ts=dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago),
        customer_id=7,
        login=login,
        purpose="extended_processing",
        granted=granted,
        source="checkbox:signup",
    )


def elsewhere(key: bytes) -> int:
    """A partition that is neither ``key``'s own nor the erased login's."""
    taken = {_murmur2_partition(key), _murmur2_partition(ERASED.encode())}
    return next(p for p in range(PARTITIONS) if p not in taken)


def placements(days_ago: float) -> list[tuple[int, bytes, bytes]]:
    """(partition, key, value) of the erased login's decisions under several producers' rules."""
    login = ERASED.encode()
    placed = []
    for granted, (partition, key) in zip(
        [True, False, True, True],
        [
            (_crc32_partition(login), login),  # the right key, librdkafka's partitioner
            (_murmur2_partition(login), login),  # the right key and partition
            (elsewhere(b"customer-7"), b"customer-7"),
            (elsewhere(b"00000007"), b"00000007"),
        ],
        strict=True,
    ):
        placed.append(
            (partition, key, encode(decision(ERASED, granted=granted, days_ago=days_ago)))
        )
    return placed


async def publish(bootstrap: KafkaTarget, messages: list[tuple[int, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(**bootstrap.client_kwargs())
    await producer.start()
    try:
        for partition, key, value in messages:
            await producer.send_and_wait(Topic.CONSENT, value, key=key, partition=partition)
    finally:
        await producer.stop()


def holders(records: list[Record], login: str) -> set[tuple[int, bytes | None]]:
    """Every (partition, key) under which a decision of ``login`` was ever published."""
    decoder = msgspec.json.Decoder(Consent)
    return {
        (r.partition, r.key) for r in records if r.value and decoder.decode(r.value).login == login
    }


def last_values(records: list[Record]) -> dict[tuple[int, bytes | None], bytes | None]:
    return {(r.partition, r.key): r.value for r in records}


def test_erase_leaves_no_decision_of_the_login_under_any_key_or_partition(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str
) -> None:
    env = spur_env(fresh_topics, tmp_path, store_url, SPUR_CONSUMER_GROUP=GROUP)
    log = tmp_path / "worker.log"
    kept = encode(decision(KEPT, granted=True, days_ago=3))
    control = [(_crc32_partition(KEPT.encode()), KEPT.encode(), kept)]
    with running_worker(env, log) as worker:
        asyncio.run(publish(fresh_topics, control))
        wait_until_committed(fresh_topics, GROUP, [Topic.CONSENT], worker=worker, log=log)

    # No worker runs: the erasure's own tombstones must cover every partition.
    asyncio.run(publish(fresh_topics, placements(days_ago=2)))
    erased = spur(env, "erase", "--login", ERASED, "--yes", "--format", "json")
    assert erased.returncode == 0, erased.stderr
    last = last_values(asyncio.run(read_records(fresh_topics, Topic.CONSENT)))
    for partition in range(PARTITIONS):
        assert last[(partition, ERASED.encode())] is None

    # The worker then removes the decisions under other keys, not bringing any back,
    # also one from before the erasure that arrives late and mis-keyed.
    with running_worker(env, log) as worker:
        asyncio.run(publish(fresh_topics, placements(days_ago=1)[2:3]))
        wait_until_committed(fresh_topics, GROUP, [Topic.CONSENT], worker=worker, log=log)

    records = asyncio.run(read_records(fresh_topics, Topic.CONSENT))
    held = holders(records, ERASED)
    assert len({partition for partition, _ in held}) >= 3, "the attack spread too little"
    last = last_values(records)
    assert {place: last[place] for place in held} == dict.fromkeys(held)
    # The control login's decision: re-routed to its key's partition, and kept.
    home = (_murmur2_partition(KEPT.encode()), KEPT.encode())
    assert last[home] == kept
