"""The actions path (spur_streams.batch) over in-memory fakes: order of steps, exactly once,
dedup, windows, capacity, erasure and metrics. No store, no broker."""

from __future__ import annotations

import datetime as dt

import pytest

from spur_schemas.metrics import (
    BATCH_SECONDS,
    DUPLICATES,
    ERASED_DROPPED,
    EVENTS_IN,
    REJECTED,
    WINDOW_UPDATES,
)
from spur_schemas.topics import Topic
from tests.fakes import MemoryStore, RecordingMetrics, memory_batch
from tests.streams.helpers import NOW, action, messages


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def metrics() -> RecordingMetrics:
    return RecordingMetrics()


def test_replays_and_resends_count_once(store: MemoryStore, metrics: RecordingMetrics) -> None:
    batch = memory_batch(store, metrics)
    docs = [action(customer_id=c, bytes_in=10 * c) for c in (1, 1, 2)]
    batch.process_actions(messages(Topic.ACTIONS, docs), NOW)
    replayed = batch.process_actions(messages(Topic.ACTIONS, docs), NOW)  # after a "crash"
    batch.process_actions(messages(Topic.ACTIONS, docs[:1], first=1000), NOW)  # re-sent
    totals = {u.customer_id: (u.bytes_in, u.actions) for u in replayed.usage}
    assert totals == {1: (20, 2), 2: (20, 1)}
    assert len(store.index) == 3
    assert metrics.count(DUPLICATES) == 4
    assert metrics.count(EVENTS_IN, topic=Topic.ACTIONS) == 7
    # The replay rewrote and republished both windows, with the same version.
    assert [u.version for u in replayed.usage] == [1, 1]
    assert metrics.count(WINDOW_UPDATES) == 2 + 2 + 1
    assert [name for name, *_ in metrics.observed].count(BATCH_SECONDS.name) == 3


def test_steps_write_raw_rows_then_fold_then_windows_then_dead_letters(
    store: MemoryStore, metrics: RecordingMetrics
) -> None:
    batch = memory_batch(store, metrics)
    batch.process_actions(messages(Topic.ACTIONS, [action(), b"{nope"]), NOW)
    assert store.writes == ["actions", "fold", "write", "dead_letters"]


def test_a_conflicting_duplicate_is_a_dead_letter_and_the_first_copy_stands(
    store: MemoryStore, metrics: RecordingMetrics
) -> None:
    batch = memory_batch(store, metrics)
    first = action(bytes_in=1)
    batch.process_actions(messages(Topic.ACTIONS, [first]), NOW)
    outcome = batch.process_actions(
        messages(Topic.ACTIONS, [{**first, "bytes_in": 999}], first=1), NOW
    )
    assert [(d.reason, d.offset) for d in outcome.dead_letters] == [("conflicting_duplicate", 1)]
    assert outcome.usage == []  # a conflict touches no window
    assert [state.bytes_in for state in store.sums.values()] == [1]
    assert metrics.count(REJECTED, topic=Topic.ACTIONS.value, reason="conflicting_duplicate") == 1
    assert store.dead_letters == outcome.dead_letters


def test_capacity_minutes_of_the_accepted_actions_are_refreshed(
    store: MemoryStore, metrics: RecordingMetrics
) -> None:
    batch = memory_batch(store, metrics)
    docs = [action(action="a.x"), action(action="a.x", status="error"), action(action="b.y")]
    outcome = batch.process_actions(messages(Topic.ACTIONS, docs), NOW)
    minutes = batch.actions.refresh_capacity(outcome.capacity)
    assert sorted((m.action, m.actions, m.error_actions, m.version) for m in minutes) == [
        ("a.x", 2, 1, 1),
        ("b.y", 1, 0, 1),
    ]
    assert minutes[0].duration_p50_ms == 30_000.0


def test_erased_customers_actions_are_dropped_and_erased_logins_billed_not_stored(
    store: MemoryStore, metrics: RecordingMetrics
) -> None:
    store.erase("customer", "7", NOW)
    store.erase("login", "bob@example.com", NOW)
    batch = memory_batch(store, metrics)
    docs = [action(customer_id=7), action(customer_id=8, login="bob@example.com")]
    outcome = batch.process_actions(messages(Topic.ACTIONS, docs), NOW)
    assert metrics.count(ERASED_DROPPED) == 1
    assert store.actions == []  # neither raw row is stored
    assert [(u.customer_id, u.actions) for u in outcome.usage] == [(8, 1)]  # the login's is billed


def test_an_erased_customers_dropped_action_claims_no_id(
    store: MemoryStore, metrics: RecordingMetrics
) -> None:
    """docs/guarantees.md, erasure: dropped on arrival, the erased customer's copy
    never claims its id; another copy with other content is decided alone."""
    store.erase("customer", "7", NOW)
    batch = memory_batch(store, metrics)
    erased = action(customer_id=7)
    other = {**erased, "customer_id": 8, "bytes_in": 5}
    outcome = batch.process_actions(messages(Topic.ACTIONS, [erased, other]), NOW)
    assert metrics.count(ERASED_DROPPED) == 1
    assert [(u.customer_id, u.actions, u.bytes_in) for u in outcome.usage] == [(8, 1, 5)]
    assert outcome.dead_letters == []


def test_a_reject_of_an_erased_subject_is_dropped(
    store: MemoryStore, metrics: RecordingMetrics
) -> None:
    store.erase("customer", "7", NOW)
    batch = memory_batch(store, metrics)
    outcome = batch.process_actions(
        messages(Topic.ACTIONS, [action(customer_id=7, bytes_in=-1)]), NOW
    )
    assert outcome.dead_letters == []
    assert store.dead_letters == []
    assert metrics.count(ERASED_DROPPED) == 1


def test_an_erasure_racing_the_batch_is_deleted_again(
    store: MemoryStore, metrics: RecordingMetrics
) -> None:
    batch = memory_batch(store, metrics)

    def erase_meanwhile() -> None:
        store.erase("customer", "9", NOW + dt.timedelta(seconds=1))
        store.erase("login", "eve@example.com", NOW + dt.timedelta(seconds=1))

    store.after_fold = erase_meanwhile
    batch.process_actions(
        messages(Topic.ACTIONS, [action(customer_id=9), action(login="eve@example.com")]), NOW
    )
    assert sorted(store.deleted_again) == [("customer", "9"), ("login", "eve@example.com")]
    assert len(store.on_read_tombstones) == 2  # before and after the writes


def test_an_empty_batch_writes_nothing(store: MemoryStore, metrics: RecordingMetrics) -> None:
    outcome = memory_batch(store, metrics).process_actions([], NOW)
    assert (outcome.usage, outcome.dead_letters, outcome.capacity) == ([], [], set())
    assert store.writes == []


def test_a_tail_that_runs_after_the_next_batch_recorded_still_bills_exactly(
    store: MemoryStore, metrics: RecordingMetrics
) -> None:
    # The worker finishes batch N (hours rewritten) while batch N+1 is recorded.
    batch = memory_batch(store, metrics)
    first = [action(customer_id=7, bytes_in=10), action(customer_id=7, bytes_in=20)]
    second = [action(customer_id=7, bytes_in=5), first[0]]  # one new, one repeat
    recorded_first = batch.record_actions(messages(Topic.ACTIONS, first), NOW)
    recorded_second = batch.record_actions(messages(Topic.ACTIONS, second, first=100), NOW)
    finished_first = batch.actions.finish(recorded_first)
    finished_second = batch.actions.finish(recorded_second)
    # The first tail already sees the second fold: a newer state, a higher version.
    assert [(u.bytes_in, u.actions, u.version) for u in finished_first.usage] == [(35, 3, 2)]
    assert [(u.bytes_in, u.actions, u.version) for u in finished_second.usage] == [(35, 3, 2)]
    assert len(store.index) == 3
    assert metrics.count(DUPLICATES) == 1
    assert metrics.count(EVENTS_IN, topic=Topic.ACTIONS) == 4
