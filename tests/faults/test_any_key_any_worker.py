"""Exact at any scale: producers keying by their own rules, three workers, one killed -9.

Every action is published at least twice at once, each copy on the partition
its producer's own rule picks (null keys, ``customer-7``, ``00000007``,
librdkafka's CRC32 of the customer id, random keys, spur's own key), and a
fifth of them once more with other content for another customer: a
conflicting copy racing the original on another partition. Two workers run
from the start, a third joins late, the first is killed with SIGKILL
mid-stream and restarted.

The oracle is independent of the store: it reads the actions topic back
from Kafka, finds each id's canonical partition with aiokafka's own
murmur2, and takes the first copy there as the one that stands (the
contract: docs/topics.md, "Keys"). Billing, capacity, dead letters and the
last message per key on the window topics must equal it.

Fails without routing (two owners of one id both fold it: over-billed) and
without the re-check after publishing (a stale state can be the last one).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import zlib
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from spur.client.kafka import KafkaTarget
from spur.dev.simulate import WorkloadShape, simulate_actions
from spur_schemas.events import Action
from spur_schemas.messages import CapacityMessage, UsageMessage
from spur_schemas.topics import Topic, action_key
from spur_schemas.validate import encode
from spur_sinks.store import Store
from tests.faults.test_rebalance import events_read
from tests.integration.helpers import running_worker, spur, spur_env, wait_until_committed
from tests.integration.streams_helpers import billed_by_cli
from tests.oracle import expected_billing, expected_capacity, expected_windows
from tests.shortfall import explain_windows
from tests.stored import stored_capacity
from tests.topic_contents import Record, read_records

pytestmark = [pytest.mark.integration, pytest.mark.faults]

GROUP = "anykey"
PARTITIONS = 4  # SPUR_TOPIC_PARTITIONS' default, which the test topics have


def _kafka_partition(key: bytes) -> int:
    return int(murmur2(key) & 0x7FFFFFFF) % PARTITIONS


def placed(action: Action, rng: random.Random) -> tuple[int, bytes | None]:
    """(partition, key) of one copy, by one of the rules producers in the field use."""
    customer = str(action.customer_id).encode()
    rule = rng.choice(["null", "prefixed", "padded", "crc32", "random", "spur"])
    if rule == "null":
        return rng.randrange(PARTITIONS), None
    if rule == "crc32":  # librdkafka's default partitioner (consistent_random)
        return zlib.crc32(customer) % PARTITIONS, customer
    key = {
        "prefixed": b"customer-" + customer,
        "padded": customer.rjust(8, b"0"),
        "random": rng.randbytes(8),
        "spur": action_key(action.action_id),
    }[rule]
    return _kafka_partition(key), key


def copies(actions: list[Action], seed: int) -> list[tuple[int, bytes | None, bytes]]:
    rng = random.Random(seed)
    sent = []
    for action in actions:
        versions = [action, action]  # an exact repeat, as a client re-sending its spool
        if rng.random() < 0.2:
            other = msgspec.structs.replace(
                action, customer_id=action.customer_id % 40 + 1, bytes_in=action.bytes_in + 1
            )
            versions.append(other)
        for version in versions:
            partition, key = placed(version, rng)
            sent.append((partition, key, encode(version)))
    return sent


async def publish(bootstrap: KafkaTarget, messages: list[tuple[int, bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(**bootstrap.client_kwargs(), linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(Topic.ACTIONS, value, key=key, partition=partition)
            for partition, key, value in messages
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def decided(records: list[Record]) -> tuple[list[Action], int]:
    """The copy that stands per id (first on its canonical partition) and the conflicts there."""
    decoder = msgspec.json.Decoder(Action)
    first: dict[object, Action] = {}
    conflicts = 0
    for record in records:
        assert record.value is not None
        action = decoder.decode(record.value)
        if record.partition != _kafka_partition(str(action.action_id).encode()):
            continue  # read elsewhere: re-routed here, decided here
        kept = first.setdefault(action.action_id, action)
        conflicts += kept != action
    return list(first.values()), conflicts


def assert_decided_once(
    records: list[Record], billed_json: str, store: Store, *, actions: int, published: int
) -> list[Action]:
    """Billing (``spur billing``'s JSON), capacity and dead letters are the oracle's of the
    actions topic's ``records``; returns the copies that stood."""
    stood, conflicts = decided(records)
    assert len(stood) == actions
    assert conflicts > 0, "no conflicting copy was decided: the test attacks nothing"
    assert len(records) > published, "no copy was re-routed: the test attacks nothing"
    assert billed_by_cli(billed_json) == expected_billing(stood)
    assert stored_capacity(store) == expected_capacity(stood)
    letters = store.query(
        f"SELECT reason, count() AS n FROM {store.database}.dead_letters GROUP BY reason"
    )
    assert {r["reason"]: int(r["n"]) for r in letters} == {"conflicting_duplicate": conflicts}
    return stood


def last_per_key(records: list[Record]) -> dict[bytes | None, bytes | None]:
    return {record.key: record.value for record in records}


def worker_envs(
    bootstrap: KafkaTarget, dirs: list[Path], store_url: str
) -> tuple[list[dict[str, str]], list[Path]]:
    """One worker's environment and log per directory (made here), all in GROUP,
    in small batches (many batches: many points to be killed at)."""
    envs = []
    for directory in dirs:
        directory.mkdir()
        envs.append(
            spur_env(
                bootstrap, directory, store_url, SPUR_CONSUMER_GROUP=GROUP,
                SPUR_BATCH_SIZE="500",
            )
        )  # fmt: skip
    return envs, [directory / "worker.log" for directory in dirs]


def lag(bootstrap: KafkaTarget) -> int:
    from spur.broker import consumer_lag

    try:
        return sum(asyncio.run(consumer_lag(bootstrap, GROUP, [Topic.ACTIONS])).values())
    except Exception:  # the coordinator may be moving during a restart
        return -1


def test_any_key_any_partition_three_workers_one_killed(
    fresh_topics: KafkaTarget, tmp_path: Path, store_url: str, store: Store
) -> None:
    actions = simulate_actions(WorkloadShape(customers=40, sessions_per_customer=30, days=10))
    assert len(actions) >= 3000
    messages = copies(actions, seed=19)
    dirs = [tmp_path / name for name in ("first", "second", "third")]
    envs, logs = worker_envs(fresh_topics, dirs, store_url)
    third = len(messages) // 3

    middle = messages[third : 2 * third]
    chunks = [middle[n : n + 300] for n in range(0, len(middle), 300)]
    last, rest = messages[2 * third :][: third // 2], messages[2 * third :][third // 2 :]

    with running_worker(envs[0], logs[0]) as first, running_worker(envs[1], logs[1]) as second:
        asyncio.run(publish(fresh_topics, messages[:third]))
        with running_worker(envs[2], logs[2]) as joiner:
            # A chunk at a time until the late one has taken partitions and read.
            deadline = time.monotonic() + 120
            while chunks and events_read(dirs[2] / "state") == 0:
                assert time.monotonic() < deadline, logs[2].read_text()[-3000:]
                assert joiner.poll() is None, logs[2].read_text()[-3000:]
                asyncio.run(publish(fresh_topics, chunks.pop(0)))
                time.sleep(0.5)
            for chunk in chunks:
                asyncio.run(publish(fresh_topics, chunk))
            assert events_read(dirs[2] / "state") > 0, "the third worker never took partitions"
            asyncio.run(publish(fresh_topics, last))
            assert lag(fresh_topics) > 0  # mid-stream: the first is killed with work left
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
            with running_worker(envs[0], logs[0]) as restarted:
                asyncio.run(publish(fresh_topics, rest))
                wait_until_committed(
                    fresh_topics, GROUP, [Topic.ACTIONS], worker=restarted, log=logs[0],
                    timeout=240,
                )  # fmt: skip
                assert second.poll() is None
                assert joiner.poll() is None

    billed = spur(envs[1], "billing", "--month", "2026-11", "--format", "json")
    assert billed.returncode == 0, billed.stderr
    records = asyncio.run(read_records(fresh_topics, Topic.ACTIONS))
    # Whichever copy stands, each of the ids is billed once.
    assert sum(n for _, _, n in billed_by_cli(billed.stdout).values()) == len(actions), (
        explain_windows(store, expected_windows(decided(records)[0]), decided(records)[0])
    )
    stood = assert_decided_once(
        records, billed.stdout, store, actions=len(actions), published=len(messages)
    )

    # The last message per key on the window topics is the newest state.
    usage = msgspec.json.Decoder(UsageMessage)
    last_usage = last_per_key(asyncio.run(read_records(fresh_topics, Topic.USAGE)))
    windows = {}
    for value in last_usage.values():
        assert value is not None
        state = usage.decode(value)
        windows[(state.customer_id, int(state.hour.timestamp()))] = (
            state.bytes_in, state.bytes_out, state.actions, state.error_actions,
        )  # fmt: skip
    assert windows == expected_windows(stood)
    capacity = msgspec.json.Decoder(CapacityMessage)
    minutes = {}
    for value in last_per_key(asyncio.run(read_records(fresh_topics, Topic.CAPACITY))).values():
        assert value is not None
        m = capacity.decode(value)
        minutes[(m.action, int(m.minute.timestamp()))] = (
            m.actions, m.error_actions, m.bytes_in, m.bytes_out,
            m.duration_p50_ms, m.duration_p95_ms, m.duration_p99_ms,
        )  # fmt: skip
    assert minutes == expected_capacity(stood)
