"""An erased login's mis-keyed actions are re-published without the person, billed once.

Found from outside: an action of an erased login read under a wrong key was
re-published on its id's partition with its login and address, after the
erasure, for the topic's retention. Over a small in-memory cluster (as in
test_route.py; a detour's headers reach its reader as the fetcher reads
them), producers put copies on any partition.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
import pytest

from spur_schemas.metrics import ERASED_DROPPED
from spur_schemas.partitioning import partition_of
from spur_schemas.topics import Topic, action_key
from spur_streams.batch import Batch, Message
from spur_streams.steps.detours import Detour
from spur_streams.steps.erased_detours import (
    REDACTED_ADDRESS,
    REDACTED_LOGIN,
    seal,
    unsealed,
)
from tests.fakes import ERASURE_KEY, MemoryStore, RecordingMetrics, memory_batch
from tests.streams.helpers import NOW, action

PARTITIONS = 4
ERASED = "ann@example.com"


def _run(
    workers: list[Batch], logs: dict[int, list[Message]], seed: int
) -> tuple[list[str], list[Message]]:
    """Every worker over its partitions until nothing is left: dead letters' reasons, detours."""
    read = dict.fromkeys(logs, 0)
    reasons: list[str] = []
    detours: list[Message] = []
    rng = random.Random(seed)
    while any(read[p] < len(logs[p]) for p in logs):
        partition = rng.choice([p for p in logs if read[p] < len(logs[p])])
        end = min(len(logs[partition]), read[partition] + rng.randint(1, 5))
        batch = logs[partition][read[partition] : end]
        read[partition] = end
        outcome = workers[partition % len(workers)].process_actions(batch, NOW)
        for detour in outcome.detours:
            assert detour.value is not None
            placed = Message(
                Topic.ACTIONS.value, detour.partition, len(logs[detour.partition]), detour.value,
                detoured=True, erased_hash=detour.erased_hash,
            )  # fmt: skip
            logs[detour.partition].append(placed)
            detours.append(placed)
        reasons += [letter.reason for letter in outcome.dead_letters]
    return reasons, detours


def _put(logs: dict[int, list[Message]], partition: int, document: dict[str, Any]) -> None:
    value = msgspec.json.encode(document)
    logs[partition].append(Message(Topic.ACTIONS.value, partition, len(logs[partition]), value))


@pytest.mark.parametrize("seed", range(4))
def test_an_erased_logins_detours_hold_no_login_and_are_billed_once(seed: int) -> None:
    rng = random.Random(seed)
    store, metrics = MemoryStore(), RecordingMetrics()
    store.erase("login", ERASED, NOW)  # after every action below started
    workers = [memory_batch(store, metrics, partitions=PARTITIONS) for _ in range(2)]
    logs: dict[int, list[Message]] = {p: [] for p in range(PARTITIONS)}
    documents = [
        action(login=rng.choice([ERASED, "bob@example.com"]), bytes_in=rng.randint(0, 999))
        for _ in range(40)
    ]
    for document in documents:  # each sent one to three times, anywhere
        for _ in range(rng.randint(1, 3)):
            _put(logs, rng.randrange(PARTITIONS), document)
    reasons, detours = _run(workers, logs, seed)

    assert reasons == []  # the same action as sent, redacted or not: a duplicate
    assert sum(s.bytes_in for s in store.usage_hourly.values()) == sum(
        d["bytes_in"] for d in documents
    )
    assert sum(s.actions for s in store.usage_hourly.values()) == len(documents)
    assert {item.event.login for item in store.actions} == {"bob@example.com"}
    erased_ids = {d["action_id"] for d in documents if d["login"] == ERASED}
    redacted = [d for d in detours if msgspec.json.decode(d.value)["action_id"] in erased_ids]
    assert redacted, "no erased login's action was mis-keyed: the test proves nothing"
    for detour in redacted:
        assert ERASED.encode() not in detour.value
        assert b"192.0.2.77" not in detour.value
        assert b"s-1" not in detour.value
        assert detour.erased_hash is not None
    for detour in detours:
        if detour not in redacted:
            assert detour.erased_hash is None
            assert msgspec.json.decode(detour.value)["login"] == "bob@example.com"


def test_a_seal_not_made_with_the_stores_key_is_ignored() -> None:
    store, metrics = MemoryStore(), RecordingMetrics()
    store.erase("login", "someone-else@example.com", NOW)  # a key to verify with
    batch = memory_batch(store, metrics, partitions=1)
    document = action(login=REDACTED_LOGIN, client_ip=REDACTED_ADDRESS)
    action_id = uuid.UUID(document["action_id"])
    value = msgspec.json.encode(document)
    forged = seal(b"not the store's key", action_id, 12345, value)
    assert unsealed(ERASURE_KEY, action_id, forged, value) is None
    message = Message(Topic.ACTIONS.value, 0, 0, value, detoured=True, erased_hash=forged)
    other = {**document, "bytes_in": 1}  # other content: a conflict, as for any action
    second = Message(Topic.ACTIONS.value, 0, 1, msgspec.json.encode(other))
    outcome = batch.process_actions([message, second], NOW)
    assert [letter.reason for letter in outcome.dead_letters] == ["conflicting_duplicate"]
    assert [item.event.action_id for item in store.actions] == [action_id]  # stored as sent


def _sealed_copy(store: MemoryStore, document: dict[str, Any]) -> Message:
    """The copy a worker publishes of an erased login's mis-keyed ``document``, as read."""
    home = _home(document)
    wrong = Message(Topic.ACTIONS.value, (home + 1) % PARTITIONS, 0, msgspec.json.encode(document))
    outcome = memory_batch(store, RecordingMetrics(), partitions=PARTITIONS).process_actions(
        [wrong], NOW
    )
    (detour,) = outcome.detours
    assert detour.value is not None
    assert detour.erased_hash is not None
    return Message(
        Topic.ACTIONS.value, home, 0, detour.value, detoured=True, erased_hash=detour.erased_hash
    )


def _home(document: dict[str, Any]) -> int:
    return partition_of(action_key(uuid.UUID(document["action_id"])), PARTITIONS)


def test_a_seal_copied_onto_other_bytes_is_ignored() -> None:
    # Found from outside: a genuine header copied from the topic onto another message.
    store = MemoryStore()
    store.erase("login", ERASED, NOW)
    document = action(login=ERASED)
    genuine = _sealed_copy(store, document)
    batch = memory_batch(store, RecordingMetrics(), partitions=PARTITIONS)
    home = _home(document)
    # The original bytes, mis-keyed, under the copied headers: redacted all the same.
    original = msgspec.json.encode(document)
    miskeyed = msgspec.structs.replace(
        genuine, partition=(home + 1) % PARTITIONS, offset=5, value=original
    )
    (detour,) = batch.process_actions([miskeyed], NOW).detours
    assert detour.value is not None
    assert ERASED.encode() not in detour.value
    assert detour.value != original
    # A conflicting copy under the copied headers, on the id's partition: a conflict.
    conflicting = msgspec.json.encode({**document, "login": "mallory", "bytes_in": 10**9})
    forged = msgspec.structs.replace(genuine, offset=1, value=conflicting)
    outcome = batch.process_actions([genuine, forged], NOW)
    assert [letter.reason for letter in outcome.dead_letters] == ["conflicting_duplicate"]
    assert sum(s.bytes_in for s in store.usage_hourly.values()) == document["bytes_in"]


class RecordingPublisher:
    def __init__(self) -> None:
        self.placed: list[Detour] = []

    async def publish(self, topic: Topic, messages: Sequence[tuple[bytes, bytes]]) -> None:
        pass

    async def publish_placed(self, messages: Sequence[Detour]) -> None:
        self.placed += messages


def test_an_erasure_during_the_batch_is_judged_before_its_detours_are_published() -> None:
    # Found from outside: detours decided before an erasure were published after it.
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics, partitions=PARTITIONS)
    person, customer = action(login=ERASED), action(customer_id=77, login="cy@example.com")
    other = action(login="bob@example.com")
    wrong = [
        Message(Topic.ACTIONS.value, (_home(d) + 1) % PARTITIONS, n, msgspec.json.encode(d))
        for n, d in enumerate((person, customer, other))
    ]
    outcome = batch.process_actions(wrong, NOW)
    assert len(outcome.detours) == 3
    store.erase("login", ERASED, NOW)  # while the batch was on its way
    store.erase("customer", "77", NOW)
    publisher = RecordingPublisher()
    asyncio.run(batch.actions.publish(publisher, outcome, []))
    sent = {
        uuid.UUID(msgspec.json.decode(d.value or b"{}")["action_id"]): d for d in publisher.placed
    }
    assert set(sent) == {uuid.UUID(person["action_id"]), uuid.UUID(other["action_id"])}
    redacted = sent[uuid.UUID(person["action_id"])]
    assert redacted.value is not None
    assert ERASED.encode() not in redacted.value
    assert redacted.erased_hash is not None
    assert sent[uuid.UUID(other["action_id"])].value == wrong[2].value
    assert metrics.count(ERASED_DROPPED) == 1  # the erased customer's


class ErasingPublisher(RecordingPublisher):
    """A publisher during whose first send ``spur erase --login`` runs."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__()
        self.store = store
        self.sends: list[int] = []

    async def publish_placed(self, messages: Sequence[Detour]) -> None:
        if not self.sends:
            self.store.erase("login", ERASED, NOW)
        self.sends.append(len(messages))
        await super().publish_placed(messages)


def test_an_erasure_while_detours_are_sent_catches_the_chunks_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Found from outside: sending a batch's copies took up to a second, and an
    # erasure in that time missed all of them.
    monkeypatch.setattr("spur_streams.batch.DETOUR_CHUNK", 2)
    store = MemoryStore()
    batch = memory_batch(store, RecordingMetrics(), partitions=PARTITIONS)
    documents = [action(login=ERASED) for _ in range(6)]
    wrong = [
        Message(Topic.ACTIONS.value, (_home(d) + 1) % PARTITIONS, n, msgspec.json.encode(d))
        for n, d in enumerate(documents)
    ]
    outcome = batch.process_actions(wrong, NOW)
    publisher = ErasingPublisher(store)
    asyncio.run(batch.actions.publish(publisher, outcome, []))
    assert publisher.sends == [2, 2, 2]
    with_login = [d for d in publisher.placed if d.value and ERASED.encode() in d.value]
    assert with_login == publisher.placed[:2]  # the chunk on its way when the erasure came


def test_a_seal_holds_its_hash_only_for_its_key_action_and_bytes() -> None:
    key, action_id, value = b"k" * 32, uuid.uuid4(), b'{"a":1}'
    header = seal(key, action_id, 2**64 - 1, value)
    assert unsealed(key, action_id, header, value) == 2**64 - 1
    assert unsealed(key, action_id, header, b'{"a":2}') is None
    assert unsealed(key, uuid.uuid4(), header, value) is None
    assert unsealed(b"j" * 32, action_id, header, value) is None
    assert unsealed(b"", action_id, header, value) is None  # no key read: nothing verifies
    assert unsealed(key, action_id, b"1" + header, value) is None
    assert unsealed(key, action_id, b"x:" + header, value) is None


def test_a_redacted_detour_moved_again_keeps_its_seal() -> None:
    # The topic grew from 4 to 8 partitions: a copy sealed for 4 may belong elsewhere now.
    store, metrics = MemoryStore(), RecordingMetrics()
    store.erase("login", ERASED, NOW)
    logs: dict[int, list[Message]] = {p: [] for p in range(PARTITIONS)}
    for _ in range(40):
        _put(logs, 0, action(login=ERASED))
    moved = memory_batch(store, metrics, partitions=PARTITIONS).process_actions(logs[0], NOW)
    assert moved.detours
    assert all(d.erased_hash is not None for d in moved.detours)
    placed = [
        Message(Topic.ACTIONS.value, d.partition, n, d.value or b"", detoured=True,
                erased_hash=d.erased_hash)
        for n, d in enumerate(moved.detours)
    ]  # fmt: skip
    again = memory_batch(store, metrics, partitions=2 * PARTITIONS).process_actions(placed, NOW)
    assert again.detours, "no copy moved again: the test proves nothing"
    for detour in again.detours:
        assert detour.origin is not None
        assert (detour.value, detour.erased_hash) == (
            detour.origin.value, detour.origin.erased_hash,
        )  # fmt: skip
    assert store.actions == []
