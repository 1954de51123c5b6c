"""The shared raw-events path (web, forms, consent), publish and commit, over fakes."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import pytest

from spur_schemas.events import Consent
from spur_schemas.metrics import ERASED_DROPPED, EVENTS_IN, REJECTED, REPUBLISHED
from spur_schemas.partitioning import partition_of
from spur_schemas.topics import Topic, action_key
from spur_streams.steps.commit import complete_then_commit
from spur_streams.steps.route import Detour
from tests.fakes import MemoryStore, RecordingMetrics, memory_batch
from tests.streams.helpers import NOW, action, consent, form, messages, web


@pytest.mark.parametrize(
    ("topic", "document"),
    [(Topic.WEB, web), (Topic.FORMS, form), (Topic.CONSENT, consent)],
)
def test_each_path_stores_valid_rows_and_dead_letters_the_rest(
    topic: Topic, document: object
) -> None:
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics)
    process = {
        Topic.WEB: batch.process_web,
        Topic.FORMS: batch.process_forms,
        Topic.CONSENT: batch.process_consent,
    }[topic]
    assert callable(document)
    letters = process(messages(topic, [document(), b"{nope", {**document(), "x": "secret"}]), NOW)
    assert [(d.reason, d.offset) for d in letters] == [("not_json", 1), ("unknown_field", 2)]
    assert b"secret" not in msgspec.json.encode(letters)
    assert store.dead_letters == letters
    stored: dict[Topic, Sequence[object]] = {
        Topic.WEB: store.web,
        Topic.FORMS: store.forms,
        Topic.CONSENT: store.consent,
    }
    assert len(stored[topic]) == 1
    assert metrics.count(EVENTS_IN, topic=topic) == 3
    assert metrics.count(REJECTED, topic=topic.value, reason="not_json") == 1


def test_consent_tombstones_are_skipped_and_erased_subjects_not_stored_again() -> None:
    store, metrics = MemoryStore(), RecordingMetrics()
    store.erase("login", "ann@example.com", NOW)
    batch = memory_batch(store, metrics)
    docs: list[dict[str, Any] | bytes] = [
        consent("ann@example.com"),
        b"",
        consent("bob@example.com"),
        {**consent("ann@example.com"), "granted": "yes"},
    ]
    letters = batch.process_consent(messages(Topic.CONSENT, docs), NOW)
    assert [c.login for c in store.consent] == ["bob@example.com"]
    assert letters == []  # the reject names the erased login
    assert metrics.count(ERASED_DROPPED) == 1
    assert metrics.count(EVENTS_IN, topic=Topic.CONSENT) == 4


class FakePublisher:
    def __init__(self, log: list[str], fail: bool = False) -> None:
        self.log = log
        self.fail = fail

    async def publish(self, topic: Topic, messages: Sequence[tuple[bytes, bytes]]) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.log.append(f"{topic.name} {len(messages)}")

    async def publish_placed(self, messages: Sequence[Detour]) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.log.append(f"placed {len(messages)}")


class FakeCommitter:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def commit(self, offsets: Mapping[int, int]) -> None:
        self.log.append(f"commit {dict(offsets)}")


async def test_outputs_are_published_then_offsets_committed() -> None:
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics)
    docs: list[dict[str, Any] | bytes] = [action(), action(customer_id=5), b"{nope"]
    outcome = batch.process_actions(messages(Topic.ACTIONS, docs), NOW)
    minutes = batch.actions.refresh_capacity(outcome.capacity)
    log: list[str] = []
    publishing = batch.actions.publish(FakePublisher(log), outcome, minutes)
    await complete_then_commit(publishing, FakeCommitter(log), {0: 3})
    assert log == ["USAGE 2", "CAPACITY 1", "DEADLETTER 1", "commit {0: 3}"]


async def test_nothing_is_committed_when_publishing_fails() -> None:
    log: list[str] = []
    batch = memory_batch(MemoryStore(), RecordingMetrics())
    outcome = batch.process_actions(messages(Topic.ACTIONS, [action()]), NOW)
    publishing = batch.actions.publish(FakePublisher(log, fail=True), outcome, [])
    with pytest.raises(ConnectionError):
        await complete_then_commit(publishing, FakeCommitter(log), {0: 1})
    assert log == []


def test_time_guards_reject_before_any_write() -> None:
    store, metrics = MemoryStore(), RecordingMetrics()
    future = (NOW + dt.timedelta(hours=1)).isoformat()
    outcome = memory_batch(store, metrics).process_actions(
        messages(Topic.ACTIONS, [action(started_at=future, ended_at=future)]), NOW
    )
    assert [d.reason for d in outcome.dead_letters] == ["future_timestamp"]
    assert store.writes == ["dead_letters"]


class RecordingPublisher:
    """Keeps every published window message, in the order the broker appends them."""

    def __init__(self) -> None:
        self.appended: list[tuple[Topic, bytes, dict[str, Any]]] = []

    async def publish(self, topic: Topic, messages: Sequence[tuple[bytes, bytes]]) -> None:
        self.appended += [(topic, key, msgspec.json.decode(value)) for key, value in messages]

    async def publish_placed(self, messages: Sequence[Detour]) -> None:
        return


async def test_a_stale_state_acknowledged_last_is_followed_by_the_newest() -> None:
    # Two workers fold into one hour and one minute; the first one's state,
    # read before the second's fold, reaches the broker after the second's.
    store, metrics = MemoryStore(), RecordingMetrics()
    first, second = memory_batch(store, metrics), memory_batch(store, metrics)
    same_window = {"hours_ago": 2}
    early = first.process_actions(messages(Topic.ACTIONS, [action(**same_window)]), NOW)
    early_minutes = first.actions.refresh_capacity(early.capacity)
    late = second.process_actions(messages(Topic.ACTIONS, [action(**same_window)]), NOW)
    late_minutes = second.actions.refresh_capacity(late.capacity)
    publisher = RecordingPublisher()
    await second.actions.publish(publisher, late, late_minutes)
    await first.actions.publish(publisher, early, early_minutes)
    last: dict[tuple[Topic, bytes], dict[str, Any]] = {}
    for topic, key, value in publisher.appended:
        last[(topic, key)] = value
    assert [value["version"] for value in last.values()] == [2, 2]
    assert [value["actions"] for value in last.values()] == [2, 2]
    assert metrics.count(REPUBLISHED, topic=Topic.USAGE) == 1
    assert metrics.count(REPUBLISHED, topic=Topic.CAPACITY) == 1


class ErasedWhileWriting(MemoryStore):
    """`spur erase --login` records the login and deletes its rows while consent is written."""

    def store_consent(self, events: Sequence[Consent]) -> None:
        super().store_consent(events)
        self.erase("login", "ann@example.com", NOW)


def test_a_consent_batch_that_raced_an_erasure_deletes_its_subject_again() -> None:
    store, metrics = ErasedWhileWriting(), RecordingMetrics()
    batch = memory_batch(store, metrics)
    decisions = messages(Topic.CONSENT, [consent("ann@example.com"), consent("bob")])
    batch.process_consent(decisions, NOW)
    assert store.deleted_again == [("login", "ann@example.com")]


@pytest.mark.parametrize(("owned", "rechecked"), [({0, 1, 2, 3}, False), ({0, 2}, True)])
async def test_only_a_worker_sharing_the_partitions_reads_its_windows_again(
    owned: set[int], rechecked: bool
) -> None:
    # A worker that holds every partition is the only one folding: its states
    # are the newest, and the second read is skipped (it costs a backfill a
    # quarter of its rate).
    store, metrics = MemoryStore(), RecordingMetrics()
    batch = memory_batch(store, metrics, partitions=4)
    batch.assign(owned)
    document = action(hours_ago=2)
    home = partition_of(action_key(uuid.UUID(document["action_id"])), 4)
    outcome = batch.process_actions(messages(Topic.ACTIONS, [document], partition=home), NOW)
    assert outcome.usage  # folded here, not re-routed
    minutes = batch.actions.refresh_capacity(outcome.capacity)
    memory_batch(store, metrics).process_actions(
        messages(Topic.ACTIONS, [action(hours_ago=2)]), NOW
    )  # another writer folds into the same hour and minute meanwhile
    await batch.actions.publish(RecordingPublisher(), outcome, minutes)
    assert metrics.count(REPUBLISHED, topic=Topic.USAGE) == rechecked
    assert metrics.count(REPUBLISHED, topic=Topic.CAPACITY) == rechecked
