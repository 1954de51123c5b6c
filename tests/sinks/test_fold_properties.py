"""The whole batch path is exact under any order, duplication, batching, crash and replay.

The real :func:`spur.worker.batch.batch_steps` and :func:`spur_sinks.capacity.refresh_capacity`
run against a real store (the ``store`` fixture; a fresh database per example);
a wrapper store "crashes" the worker at a drawn store call, before or after the
server applied it. The worker then restarts with no memory and replays from the
last committed position, cut into batches differently. Usage and capacity, as
stored and as published, must equal an independent oracle (tests/oracle.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spur.dev.simulate import WorkloadShape, simulate_actions
from spur.settings import Settings
from spur.worker.batch import batch_steps
from spur_schemas.located import Located
from spur_schemas.messages import CapacityMessage, UsageMessage
from spur_schemas.validate import encode
from spur_sinks.capacity import refresh_capacity
from spur_sinks.migrate import apply_migrations
from spur_sinks.store import Columns, Store
from spur_sinks.url import ReadLimits
from spur_streams.batch import Message
from spur_streams.usage import touched
from tests.oracle import expected_capacity, expected_windows
from tests.stored import stored_capacity, stored_usage
from tests.window_keys import hour_of, minute_of

ACTIONS = simulate_actions(WorkloadShape(customers=3, sessions_per_customer=4, days=2, seed=1))
NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


class Crash(BaseException):
    """The worker process dies (not a StoreError: nothing retries it)."""


class CrashingStore:
    """A store that dies at its ``crash_at``-th call, before or after the call took effect.

    ``crash_at`` may instead name a table: the first insert into it.
    """

    def __init__(self, inner: Store, crash_at: int | str | None, after: bool) -> None:
        self.inner = inner
        self.database = inner.database
        self.calls = 0
        self.crash_at = crash_at
        self.after = after

    def _call(self, run: Any, table: str | None = None) -> Any:
        self.calls += 1
        dies = self.calls == self.crash_at or (table is not None and table == self.crash_at)
        if dies and not self.after:
            raise Crash
        result = run()
        if dies:
            raise Crash
        return result

    def execute(self, sql: str) -> None:
        self._call(lambda: self.inner.execute(sql))

    def query(self, sql: str, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._call(lambda: self.inner.query(sql, keys))
        return rows

    def insert(self, table: str, columns: Columns, *, dedup_token: str | None = None) -> None:
        self._call(lambda: self.inner.insert(table, columns, dedup_token=dedup_token), table)

    def stream(self, sql: str, deadline_seconds: float) -> Iterator[dict[str, Any]]:
        return iter(self.query(sql))

    def read_only(self, limits: ReadLimits | None = None) -> None:
        self.inner.read_only(limits)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Delivery:
    messages: list[Message]  # in topic order, offsets restart where the topic was recreated
    cuts: list[int]  # batch boundaries of the first reading
    crashes: list[tuple[int, bool]]  # (store call to die at, after it took effect)
    replay_batch: int  # how many messages a batch takes after a restart


@st.composite
def deliveries(draw: st.DrawFn) -> Delivery:
    """Actions in any order, with repeats (some long after), a recreated topic, crashes."""
    stream = list(draw(st.permutations(ACTIONS)))
    for copy in draw(st.lists(st.sampled_from(ACTIONS), max_size=len(ACTIONS) // 2)):
        stream.insert(draw(st.integers(0, len(stream))), copy)
    stream += draw(st.lists(st.sampled_from(ACTIONS), max_size=10))  # repeats at the very end
    recreated_at = draw(st.integers(0, len(stream)))  # offsets start at 0 again from here
    messages = [
        Message("spur.actions.v1", 0, n if n < recreated_at else n - recreated_at, encode(a))
        for n, a in enumerate(stream)
    ]
    cuts = sorted(draw(st.sets(st.integers(1, len(messages) - 1), max_size=8)))
    crashes = draw(st.lists(st.tuples(st.integers(1, 60), st.booleans()), max_size=3))
    return Delivery(messages, cuts, crashes, draw(st.integers(5, 60)))


def fresh(store: Store) -> None:
    store.execute(f"DROP DATABASE IF EXISTS {store.database}")
    apply_migrations(store, Settings().retention.tables)


def run(store: Store, delivery: Delivery) -> tuple[list[UsageMessage], list[CapacityMessage]]:
    """Consume ``delivery`` like spur.worker.consume: process, tail, then commit; crash, replay."""
    published_usage: list[UsageMessage] = []
    published_capacity: list[CapacityMessage] = []
    crashes = list(delivery.crashes)
    committed = 0
    bounds = [*delivery.cuts, len(delivery.messages)]
    restarted = False
    while committed < len(delivery.messages):
        crash_at, after = crashes.pop(0) if crashes else (None, False)
        worker = CrashingStore(store, crash_at, after)
        pipeline = batch_steps(worker, Settings())  # a new process: no memory
        position = committed
        try:
            while position < len(delivery.messages):
                if restarted:
                    end = min(position + delivery.replay_batch, len(delivery.messages))
                else:
                    end = next(b for b in bounds if b > position)
                outcome = pipeline.process_actions(delivery.messages[position:end], NOW)
                capacity = refresh_capacity(worker, outcome.capacity)
                published_usage.extend(outcome.usage)
                published_capacity.extend(capacity)
                position = committed = end
        except Crash:
            restarted = True
    return published_usage, published_capacity


def latest(messages: Sequence[Any], key: Any) -> dict[Any, Any]:
    found: dict[Any, Any] = {}
    for message in messages:
        k = key(message)
        if k not in found or message.version >= found[k].version:
            found[k] = message
    return found


def usage_of(states: Any) -> dict[tuple[int, int], tuple[int, ...]]:
    return {
        (int(s.customer_id), int(s.hour.timestamp())): (
            int(s.bytes_in), int(s.bytes_out), int(s.actions), int(s.error_actions),
        )
        for s in states
    }  # fmt: skip


def capacity_of(states: Any) -> dict[tuple[str, int], tuple[float, ...]]:
    return {
        (s.action, int(s.minute.timestamp())): (
            s.actions, s.error_actions, s.bytes_in, s.bytes_out,
            s.duration_p50_ms, s.duration_p95_ms, s.duration_p99_ms,
        )
        for s in states
    }  # fmt: skip


@given(delivery=deliveries())
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_usage_and_capacity_are_exact_whatever_the_delivery(
    store: Store, delivery: Delivery
) -> None:
    fresh(store)
    usage, capacity = run(store, delivery)
    truth_usage = expected_windows(ACTIONS)
    truth_capacity = expected_capacity(ACTIONS)
    assert stored_usage(store) == truth_usage
    assert stored_capacity(store) == truth_capacity
    assert usage_of(latest(usage, lambda u: (u.customer_id, u.hour)).values()) == truth_usage
    assert capacity_of(latest(capacity, lambda c: (c.action, c.minute)).values()) == truth_capacity


def test_a_recreated_topic_bills_new_actions_at_reused_offsets(store: Store) -> None:
    fresh(store)
    first, second = ACTIONS[:30], ACTIONS[30:]
    pipeline = batch_steps(store, Settings())
    pipeline.process_actions([Message("t", 0, n, encode(a)) for n, a in enumerate(first)], NOW)
    # The topic is deleted and created again: its offsets restart at 0.
    pipeline.process_actions([Message("t", 0, n, encode(a)) for n, a in enumerate(second)], NOW)
    assert stored_usage(store) == expected_windows(ACTIONS)


def test_an_action_days_behind_its_partition_is_folded(store: Store) -> None:
    """Lateness is measured, never a reason to leave an action out (docs/guarantees.md)."""
    fresh(store)
    newest, old = ACTIONS[-1], ACTIONS[0]
    assert newest.started_at - old.started_at > dt.timedelta(hours=24)
    pipeline = batch_steps(store, Settings(allowed_lateness_hours=1))
    for offset, action in enumerate([newest, old]):
        outcome = pipeline.process_actions([Message("t", 0, offset, encode(action))], NOW)
        refresh_capacity(store, outcome.capacity)
    assert stored_usage(store) == expected_windows([newest, old])
    assert stored_capacity(store) == expected_capacity([newest, old])


def test_the_window_of_an_hour_and_minute_are_whole_utc_units() -> None:
    instant = dt.datetime(
        2026, 11, 3, 10, 45, 59, 999_000, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))
    )

    def windows(at: dt.datetime) -> tuple[set[dt.datetime], set[dt.datetime]]:
        action = msgspec.structs.replace(ACTIONS[0], started_at=at)
        hours, minutes = touched([Located(action, 0, 0)])
        return {key.hour for key in hours}, {key.minute for key in minutes}

    hour, minute = (
        dt.datetime(2026, 11, 3, 5, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 3, 5, 15, tzinfo=dt.UTC),
    )
    assert windows(instant) == ({hour}, {minute})
    assert windows(instant + dt.timedelta(milliseconds=1))[1] == {minute + dt.timedelta(minutes=1)}
    # The oracle's own truncation (tests/window_keys.py) agrees with the pipeline's.
    assert (hour_of(instant), minute_of(instant)) == (hour, minute)


@pytest.mark.parametrize("after", [False, True])
def test_a_crash_around_the_fold_and_a_replay_count_once(store: Store, after: bool) -> None:
    fresh(store)
    messages = [Message("t", 0, n, encode(a)) for n, a in enumerate(ACTIONS)]
    crashing = CrashingStore(store, crash_at="action_folds", after=after)
    with pytest.raises(Crash):
        batch_steps(crashing, Settings()).process_actions(messages, NOW)
    batch_steps(store, Settings()).process_actions(messages[: len(messages) // 2], NOW)
    batch_steps(store, Settings()).process_actions(messages[len(messages) // 2 :], NOW)
    assert stored_usage(store) == expected_windows(ACTIONS)
