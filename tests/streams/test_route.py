"""Step route: every copy of an action id is decided on its id's partition, over fakes.

A small in-memory cluster: partitions are lists of messages, each "worker"
(an ActionsBatch of its own over one shared MemoryStore, as workers share
one ClickHouse) owns some partitions and reads them in order; detours are
appended to their target partition as the broker would. Producers key by
their own rules: every copy lands on a random partition.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import msgspec
import pytest
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from spur_schemas.metrics import LATE_EVENTS, MISKEYED
from spur_schemas.partitioning import murmur2, partition_of
from spur_schemas.topics import Topic, action_key, consent_key
from spur_streams.batch import Batch, Message
from spur_streams.routing import partitions_of_keys, partitions_of_uuids
from spur_streams.steps.erasure import NO_TOMBSTONES
from spur_streams.steps.route import route_consent
from tests.fakes import CONSENT_LIMITS, MemoryStore, RecordingMetrics, memory_batch
from tests.streams.helpers import NOW, action, consent

PARTITIONS = 4


def test_murmur2_is_kafkas() -> None:
    rng = random.Random(1)
    for _ in range(500):
        data = rng.randbytes(rng.randint(0, 64))
        assert murmur2(data) == aiokafka_murmur2(data) & 0xFFFFFFFF, data


def test_the_batch_hash_of_ids_is_the_partitioner_of_their_text_keys() -> None:
    ids = [uuid.uuid4() for _ in range(3000)] + [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)]
    for count in (1, 3, 4, 7, 64):
        batch = partitions_of_uuids(ids, count)
        expected = [(aiokafka_murmur2(action_key(i)) & 0x7FFFFFFF) % count for i in ids]
        assert batch.tolist() == expected
    assert partitions_of_uuids([], 4).tolist() == []


def test_the_batch_hash_of_keys_of_any_length_is_the_partitioner() -> None:
    # Window states' keys: several lengths in one batch, tails of 0-3 bytes, empty keys.
    rng = random.Random(2)
    keys = [rng.randbytes(rng.randint(0, 41)) for _ in range(3000)]
    for count in (1, 4, 7):
        expected = [(aiokafka_murmur2(key) & 0x7FFFFFFF) % count for key in keys]
        assert partitions_of_keys(keys, count).tolist() == expected
    assert partitions_of_keys([], 4).tolist() == []


def _value(document: dict[str, Any]) -> bytes:
    return msgspec.json.encode(document)


def _run_cluster(
    workers: list[Batch], owners: dict[int, int], logs: dict[int, list[bytes]]
) -> list[str]:
    """Run every worker over its partitions until nothing is left; the dead letters' reasons."""
    read = dict.fromkeys(logs, 0)
    reasons: list[str] = []
    rng = random.Random(7)
    while any(read[p] < len(logs[p]) for p in logs):
        partition = rng.choice([p for p in logs if read[p] < len(logs[p])])
        end = min(len(logs[partition]), read[partition] + rng.randint(1, 5))
        batch = [
            Message(Topic.ACTIONS.value, partition, offset, logs[partition][offset])
            for offset in range(read[partition], end)
        ]
        read[partition] = end
        outcome = workers[owners[partition]].process_actions(batch, NOW)
        for detour in outcome.detours:
            assert detour.value is not None
            action_id = uuid.UUID(msgspec.json.decode(detour.value)["action_id"])
            assert detour.key == action_key(action_id)
            logs[detour.partition].append(detour.value)
        reasons += [letter.reason for letter in outcome.dead_letters]
    return reasons


@pytest.mark.parametrize("seed", range(6))
def test_copies_on_any_partition_are_counted_once_and_conflicts_rejected(seed: int) -> None:
    rng = random.Random(seed)
    store, metrics = MemoryStore(), RecordingMetrics()
    workers = [memory_batch(store, metrics, partitions=PARTITIONS) for _ in range(3)]
    owners = {p: p % len(workers) for p in range(PARTITIONS)}
    logs: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
    originals = [
        action(customer_id=rng.randint(1, 5), bytes_in=rng.randint(0, 999)) for _ in range(60)
    ]
    expected: dict[int, int] = {}
    copies_of: dict[str, list[dict[str, Any]]] = {}
    for document in originals:
        copies = [document] * rng.randint(1, 3)
        if rng.random() < 0.3:  # the same id, another customer: a conflicting copy
            copies.append({**document, "customer_id": document["customer_id"] + 100})
        copies_of[document["action_id"]] = copies
        for copy in copies:  # each copy on a partition of the producer's choosing
            logs[rng.randrange(PARTITIONS)].append(_value(copy))
    reasons = _run_cluster(workers, owners, logs)
    stored = {item.event.action_id: item for item in store.actions}
    assert len(stored) == len(originals) == len(store.actions)
    for action_id, item in stored.items():
        # Decided on its id's partition, and the copy that stands is the first there.
        home = partition_of(action_key(action_id), PARTITIONS)
        assert item.partition == home
        first = next(
            msgspec.json.decode(value)
            for value in logs[home]
            if msgspec.json.decode(value)["action_id"] == str(action_id)
        )
        assert item.event.customer_id == first["customer_id"]
        expected[first["customer_id"]] = expected.get(first["customer_id"], 0) + first["bytes_in"]
    billed: dict[int, int] = {}
    for key, state in store.usage_hourly.items():
        billed[key.customer_id] = billed.get(key.customer_id, 0) + state.bytes_in
    assert billed == expected
    # Every copy with other content than the one that stands is rejected.
    conflicts = sum(
        copy["customer_id"] != stored[uuid.UUID(action_id)].event.customer_id
        for action_id, copies in copies_of.items()
        for copy in copies
    )
    assert conflicts > 0
    assert reasons == ["conflicting_duplicate"] * conflicts
    assert metrics.count(MISKEYED, topic=Topic.ACTIONS) > 0


def test_actions_on_their_partition_are_not_routed() -> None:
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics, partitions=PARTITIONS)
    document = action()
    home = partition_of(action_key(uuid.UUID(document["action_id"])), PARTITIONS)
    outcome = batch.process_actions([Message(Topic.ACTIONS.value, home, 0, _value(document))], NOW)
    assert outcome.detours == []
    assert len(store.actions) == 1
    assert metrics.count(MISKEYED, topic=Topic.ACTIONS) == 0


def test_an_action_elsewhere_is_re_published_to_its_partition_as_it_came() -> None:
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics, partitions=PARTITIONS)
    document = action()
    action_id = uuid.UUID(document["action_id"])
    home = partition_of(action_key(action_id), PARTITIONS)
    value = _value(document)
    message = Message(Topic.ACTIONS.value, (home + 1) % PARTITIONS, 9, value, b"42")
    outcome = batch.process_actions([message], NOW)
    assert [(d.topic, d.partition, d.key, d.value, d.origin) for d in outcome.detours] == [
        (Topic.ACTIONS, home, action_key(action_id), value, message)
    ]
    assert store.actions == []  # decided there, not here
    assert store.usage_hourly == {}
    assert metrics.count(MISKEYED, topic=Topic.ACTIONS) == 1


def _consent_message(document: dict[str, Any], partition: int, key: bytes | None) -> Message:
    return Message(Topic.CONSENT.value, partition, 3, _value(document), key)


def test_consent_under_its_login_key_and_partition_stays() -> None:
    document = consent("ann")
    home = partition_of(consent_key("ann"), PARTITIONS)
    message = _consent_message(document, home, b"ann")
    route = route_consent(
        [message], CONSENT_LIMITS, NO_TOMBSTONES, NOW, partitions=PARTITIONS,
        metrics=RecordingMetrics(),
    )  # fmt: skip
    assert (route.here, route.detours, route.stale) == ([message], [], [])


@pytest.mark.parametrize("key", [b"ann", b"customer-42", b"00000042"])
def test_misplaced_consent_is_re_routed_and_its_original_tombstoned_where_safe(key: bytes) -> None:
    metrics = RecordingMetrics()
    document = consent("ann")
    home = partition_of(b"ann", PARTITIONS)
    own = partition_of(key, PARTITIONS)
    elsewhere = next(p for p in range(PARTITIONS) if p not in (home, own))
    message = _consent_message(document, elsewhere, key)
    route = route_consent(
        [message], CONSENT_LIMITS, NO_TOMBSTONES, NOW, partitions=PARTITIONS, metrics=metrics
    )
    assert route.here == []
    assert [(d.partition, d.key, d.value) for d in route.detours] == [(home, b"ann", message.value)]
    assert [(d.partition, d.key, d.value) for d in route.stale] == [(elsewhere, key, None)]
    assert metrics.count(MISKEYED, topic=Topic.CONSENT) == 1


def test_a_wrong_key_on_its_own_partition_is_not_tombstoned() -> None:
    # A tombstone there would remove the decisions of a login named like the key.
    document = consent("ann")
    key = next(k for k in (b"bob", b"carl", b"dora", b"emil", b"fritz")
               if partition_of(k, PARTITIONS) != partition_of(b"ann", PARTITIONS))  # fmt: skip
    message = _consent_message(document, partition_of(key, PARTITIONS), key)
    route = route_consent(
        [message], CONSENT_LIMITS, NO_TOMBSTONES, NOW, partitions=PARTITIONS,
        metrics=RecordingMetrics(),
    )  # fmt: skip
    assert len(route.detours) == 1
    assert route.stale == []


def test_an_erased_logins_misplaced_decision_is_not_re_published() -> None:
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics)
    store.erase("login", "ann", NOW)
    home = partition_of(b"ann", PARTITIONS)
    message = _consent_message(consent("ann"), (home + 1) % PARTITIONS, b"ann")
    route = batch.route_consent([message], NOW, PARTITIONS)
    assert route.detours == []
    assert [(d.partition, d.key, d.value) for d in route.stale] == [
        (message.partition, b"ann", None)
    ]


def test_lateness_is_measured_where_an_action_arrived_not_again_where_it_is_decided() -> None:
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics, partitions=PARTITIONS)
    newest = action(hours_ago=1)
    old = action(hours_ago=100)  # 99 hours behind its producer's newest: late
    home = partition_of(action_key(uuid.UUID(old["action_id"])), PARTITIONS)
    arrived = (home + 1) % PARTITIONS
    first = [
        Message(Topic.ACTIONS.value, arrived, 0, _value(newest)),
        Message(Topic.ACTIONS.value, arrived, 1, _value(old)),
    ]
    outcome = batch.process_actions(first, NOW)
    assert metrics.count(LATE_EVENTS) == 1
    # Its copy, decided on its id's partition, is not measured a second time
    # (there it may follow actions of other producers by days).
    later = next(
        document
        for document in (action(hours_ago=0.5) for _ in range(1000))
        if partition_of(action_key(uuid.UUID(document["action_id"])), PARTITIONS) == home
    )
    batch.process_actions([Message(Topic.ACTIONS.value, home, 0, _value(later))], NOW)
    copies = [
        Message(Topic.ACTIONS.value, d.partition, 10 + n, d.value or b"", detoured=True)
        for n, d in enumerate(outcome.detours)
        if d.partition == home
    ]
    batch.process_actions(copies, NOW)
    assert uuid.UUID(old["action_id"]) in {item.event.action_id for item in store.actions}
    assert metrics.count(LATE_EVENTS) == 1


def test_a_decision_re_routed_while_its_login_is_erased_is_tombstoned_after_it() -> None:
    # The worker checked the erasures, then stalled; the erasure recorded the
    # login and published its tombstones; then the detour was appended.
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics)
    home = partition_of(b"ann", PARTITIONS)
    bob_home = partition_of(b"bob", PARTITIONS)
    messages = [
        _consent_message(consent("ann"), (home + 1) % PARTITIONS, b"ann"),
        Message(
            Topic.CONSENT.value, (bob_home + 1) % PARTITIONS, 4, _value(consent("bob")), b"bob"
        ),
    ]
    route = batch.route_consent(messages, NOW, PARTITIONS)
    assert [d.key for d in route.detours] == [b"ann", b"bob"]
    assert batch.consent_raced(route) == []
    store.erase("login", "ann", NOW)
    raced = batch.consent_raced(route)
    assert [(d.partition, d.key, d.value) for d in raced] == [(home, b"ann", None)]
